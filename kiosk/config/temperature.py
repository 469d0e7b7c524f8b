"""[temperature]: body temperature screening and thermal liveness."""
from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Optional

from pydantic import Field

from .base import Section


class FeverMode(StrEnum):
    hard = "hard"  # deny and alert
    soft = "soft"  # allow, log and alert
    off = "off"    # measure and report only


class ScreeningOrder(StrEnum):
    before_identification = "before_identification"  # screen everyone, even unknown faces
    after_identification = "after_identification"    # screen only recognised persons


class SensorFov(StrEnum):
    standard = "55x35"  # MLX90640ESF-BAB
    wide = "110x75"     # MLX90640ESF-BAA


class TemperatureConfig(Section):
    fever_threshold_c: float = Field(37.3, ge=35.0, le=40.0, description="Estimated body temperature counted as fever.")
    mode: FeverMode = Field(FeverMode.hard, description="hard (deny + alert), soft (allow + alert) or off.")
    order: ScreeningOrder = Field(ScreeningOrder.before_identification,
                                  description="Screen before or after identification.")
    confirm_readings: int = Field(2, ge=1, le=10, description="Fever readings needed before a fever verdict.")
    min_quality: float = Field(0.5, ge=0, le=1, description="Readings below this quality ask the person to come "
                                                            "closer or stand still instead of giving a verdict.")
    calibration_file: Optional[Path] = Field(None, description="Calibration file (registration, distance curve, "
                                                               "blackbody); unset = <state_dir>/calibration.json "
                                                               "if present, else built-in defaults.")
    ambient_sensor_c: Optional[float] = Field(None, ge=-20, le=50,
                                              description="Room temperature from an external sensor or a fixed "
                                                          "value; unset = the thermal sensor's die temperature "
                                                          "minus its calibrated self-heating.")
    sensor_fov: SensorFov = Field(SensorFov.standard, description="MLX90640 lens: 55x35 (BAB) or 110x75 (BAA, wide); "
                                                                  "the field of view the sensor's frames carry and "
                                                                  "the default registration uses.")
    sensor_offset_mm: tuple[float, float, float] = Field(
        (30.0, 0.0, 0.0), description="Thermal sensor position relative to the camera (x right, y down, z forward, "
                                      "mm), for the default registration before calibration.")
    max_distance_m: float = Field(1.0, gt=0.2, le=3.0, description="Farthest supported face distance; farther "
                                                                    "readings are low quality (\"come closer\").")


class LivenessConfig(Section):
    enabled: bool = Field(True, description="Refuse faces whose thermal region does not look like skin.")
    min_skin_c: float = Field(30.0, ge=20, le=40, description="Coldest plausible face surface temperature.")
    max_skin_c: float = Field(40.5, ge=30, le=45, description="Hottest plausible face surface temperature.")
    min_contrast_c: float = Field(3.0, ge=0, le=20, description="Least face-minus-background contrast.")
    min_score: float = Field(0.5, ge=0, le=1, description="Liveness score needed to count as live.")


class MaskPolicy(StrEnum):
    require = "require"  # deny without a mask
    ignore = "ignore"    # do not check
    warn = "warn"        # allow, ask to wear one
    forbid = "forbid"    # ask to remove the mask (recognition needs the whole face)


class MaskConfig(Section):
    policy: MaskPolicy = Field(MaskPolicy.ignore, description="require, ignore, warn (allow, ask to wear one) or forbid "
                                                            "(ask to remove it: recognition needs the whole face).")
    threshold: float = Field(0.5, gt=0, lt=1, description="Mask score above which a face counts as masked.")
    masked_templates: bool = Field(False, description="At enrollment also store one template per synthetic mask style "
                                                      "(kiosk.face.masked); off by default: they also bring "
                                                      "strangers closer (see the README, masked faces).")
    upper_face: bool = Field(True, description="Recognise masked faces by the upper face: enrollment also stores each "
                                               "photo's upper-face template (lower face greyed out), and a walk-up "
                                               "whose mask score is at least `threshold` is matched by its upper face "
                                               "against those, at the threshold the security level gives for that "
                                               "space (kiosk.face.masked). Off: masked faces are matched whole.")
