"""The calibration file: rig, registration, distance curve, ambient and blackbody, as versioned JSON.

Written by the calibration tools (`kiosk calibrate ...`), read by the daemon from
`config.calibration_path`; when no file exists the built-in defaults for the configured rig
apply. A file that fails validation raises `CalibrationError` with one line naming the field.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drivers.mlx90640.lens import mlx90640_geometry
from drivers.thermal.base import ThermalGeometry

from ..runtime.files import write_atomic
from .compensation import Ambient, Blackbody, DistanceCurve
from .geometry import Mount, Rig
from .registration import Registration

FORMAT = "kiosk-thermal-calibration"
VERSION = 1

# Built-in distance curve until a rig is calibrated: our fit of a simulated session on the default rig
# (`kiosk calibrate simulate --dir D && kiosk calibrate fit --dir D`, room 22 C); see README.
DEFAULT_DISTANCE = DistanceCurve(canthus=(1.4006, -1.2470, 0.9482), forehead=(0.1149, -0.5876, 0.5947),
                                 range_m=(0.3, 1.1), residual_c=0.043, captures=18)


class CalibrationError(Exception):
    """A calibration file that cannot be used, phrased as one line."""


@dataclass(frozen=True)
class Calibration:
    rig: Rig
    registration: Registration
    distance: DistanceCurve = DEFAULT_DISTANCE
    ambient: Ambient = Ambient()
    blackbody: Optional[Blackbody] = None
    created: str = ""
    source: str = "built-in defaults"   # where it came from (a path, or built-in defaults)

    @classmethod
    def default(cls, rig: Rig) -> Calibration:
        return cls(rig, Registration.from_rig(rig))

    def with_changes(self, **changes: Any) -> Calibration:
        return replace(self, **changes)


def rig_from_config(config) -> Rig:  # config: kiosk.config.KioskConfig (import kept lazy for the drivers)
    """The nominal rig: the configured camera, and the configured thermal sensor's resolution and field of view."""
    offset = tuple(v / 1000.0 for v in config.temperature.sensor_offset_mm)
    return Rig.build(config.camera.width, config.camera.height, config.camera.horizontal_fov_deg,
                     config.thermal_geometry, Mount(offset, (0.0, 0.0, 0.0)))


def calibration_for_config(config) -> Calibration:
    """The calibration the daemon uses: the file at `config.calibration_path` if present, else defaults."""
    path = Path(config.calibration_path)
    if not path.exists():
        if config.temperature.calibration_file is not None:
            raise CalibrationError(f"{path}: calibration file not found (temperature.calibration_file)")
        return Calibration.default(rig_from_config(config))
    calibration = load(path)
    cam = calibration.rig.camera
    if abs(cam.width / cam.height - config.camera.width / config.camera.height) > 0.01:
        raise CalibrationError(f"{path}: made for a {cam.width}x{cam.height} camera, but camera.width x height is "
                               f"{config.camera.width}x{config.camera.height} (another aspect ratio): recalibrate")
    made_for, sensor = calibration.rig.thermal_geometry.resolution, config.thermal_geometry.resolution
    if made_for != sensor:
        raise CalibrationError(f"{path}: made for a thermal sensor of {made_for[0]}x{made_for[1]} pixels, but "
                               f"thermal.backend = {config.thermal.backend} gives {sensor[0]}x{sensor[1]}: recalibrate")
    return calibration


def describe_calibration(config) -> str:
    """Which calibration is in force, for the selftest and the console: its file (or the defaults) and kind."""
    calibration = calibration_for_config(config)
    source = config.calibration_path if Path(config.calibration_path).exists() else "built-in defaults"
    return f"{source} ({type(calibration).__name__})"


# ---- file schema -------------------------------------------------------------------------------

Vector3 = Annotated[list[float], Field(min_length=3, max_length=3)]


def _vector3(values: list[float]) -> tuple[float, float, float]:
    x, y, z = values   # the schema checked the length
    return x, y, z


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _CameraDoc(_Strict):
    width: int = Field(ge=16, le=8192)
    height: int = Field(ge=16, le=8192)
    horizontal_fov_deg: float = Field(gt=1, lt=180)


class _ThermalDoc(_Strict):
    horizontal_fov_deg: float = Field(gt=1, lt=180)
    vertical_fov_deg: float = Field(gt=1, lt=180)
    # Files written before the sensor's resolution was recorded were all made for an MLX90640.
    rows: int = Field(default_factory=lambda: mlx90640_geometry().rows, ge=1, le=4096)
    cols: int = Field(default_factory=lambda: mlx90640_geometry().cols, ge=1, le=4096)


class _MountDoc(_Strict):
    offset_m: Vector3
    rotation_deg: Vector3


class _RigDoc(_Strict):
    camera: _CameraDoc
    thermal: _ThermalDoc
    mount: _MountDoc


class _RegistrationDoc(_Strict):
    homography: Annotated[list[Vector3], Field(min_length=3, max_length=3)]
    parallax: Vector3
    residual_px: Optional[float] = Field(None, ge=0)
    pairs: int = Field(0, ge=0)
    source: Literal["default", "fitted"]

    @field_validator("homography")
    @classmethod
    def _invertible(cls, value: list[list[float]]) -> list[list[float]]:
        matrix = np.array(value, dtype=float)
        if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-12:
            raise ValueError("must be a finite, invertible 3x3 matrix")
        return value


class _DistanceDoc(_Strict):
    canthus: Annotated[list[float], Field(min_length=1, max_length=4)]
    forehead: Annotated[list[float], Field(min_length=1, max_length=4)]
    range_m: Annotated[list[float], Field(min_length=2, max_length=2)]
    residual_c: Optional[float] = Field(None, ge=0)
    captures: int = Field(0, ge=0)

    @field_validator("range_m")
    @classmethod
    def _ordered(cls, value: list[float]) -> list[float]:
        if not 0.05 <= value[0] < value[1] <= 5.0:
            raise ValueError("must be [near, far] with 0.05 <= near < far <= 5 metres")
        return value


class _AmbientDoc(_Strict):
    ta_offset_c: float = Field(ge=-5, le=30)


REGION_RULE = "must be [row0, col0, row1, col1] inside the thermal frame, end exclusive"


class _BlackbodyDoc(_Strict):
    region: Annotated[list[int], Field(min_length=4, max_length=4)]
    set_point_c: float = Field(ge=0, le=100)
    reference_reading_c: float = Field(ge=-20, le=120)

    @field_validator("region")
    @classmethod
    def _ordered(cls, value: list[int]) -> list[int]:
        r0, c0, r1, c1 = value
        if not (0 <= r0 < r1 and 0 <= c0 < c1):
            raise ValueError(REGION_RULE)
        return value


class _CalibrationDoc(_Strict):
    format: Literal["kiosk-thermal-calibration"]
    version: Literal[1]
    created: str = ""
    rig: _RigDoc
    registration: _RegistrationDoc
    distance: _DistanceDoc
    ambient: _AmbientDoc
    blackbody: Optional[_BlackbodyDoc] = None


def to_dict(calibration: Calibration) -> dict:
    rig = calibration.rig
    reg = calibration.registration
    dist = calibration.distance
    bb = calibration.blackbody
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": calibration.created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rig": {
            "camera": {"width": rig.camera.width, "height": rig.camera.height,
                       "horizontal_fov_deg": math.degrees(2 * math.atan(rig.camera.width / 2 / rig.camera.fx))},
            "thermal": {"horizontal_fov_deg": rig.thermal.fov_deg[0], "vertical_fov_deg": rig.thermal.fov_deg[1],
                        "rows": rig.thermal.height, "cols": rig.thermal.width},
            "mount": {"offset_m": list(rig.mount.offset_m), "rotation_deg": list(rig.mount.rotation_deg)},
        },
        "registration": {"homography": reg.homography.tolist(), "parallax": reg.parallax.tolist(),
                         "residual_px": reg.residual_px, "pairs": reg.pairs, "source": reg.source},
        "distance": {"canthus": list(dist.canthus), "forehead": list(dist.forehead), "range_m": list(dist.range_m),
                     "residual_c": dist.residual_c, "captures": dist.captures},
        "ambient": {"ta_offset_c": calibration.ambient.ta_offset_c},
        "blackbody": None if bb is None else {"region": list(bb.region), "set_point_c": bb.set_point_c,
                                              "reference_reading_c": bb.reference_reading_c},
    }


def from_dict(data: object, source: str = "calibration") -> Calibration:
    """Validate a parsed calibration document; raise CalibrationError naming the first bad field."""
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("version") not in (None, VERSION):
        raise CalibrationError(f"{source}: version {data.get('version')!r} is not supported (this kiosk reads "
                               f"version {VERSION}): recalibrate or upgrade")
    try:
        doc = _CalibrationDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        if first["type"] == "extra_forbidden":
            raise CalibrationError(f"{source}: unknown field '{where}'") from None
        if first["type"] == "missing":
            raise CalibrationError(f"{source}: missing field '{where}'") from None
        raise CalibrationError(f"{source}: {where} = {first.get('input')!r}: {first['msg']}") from None
    thermal = doc.rig.thermal
    rig = Rig.build(doc.rig.camera.width, doc.rig.camera.height, doc.rig.camera.horizontal_fov_deg,
                    ThermalGeometry(thermal.rows, thermal.cols, (thermal.horizontal_fov_deg, thermal.vertical_fov_deg)),
                    Mount(_vector3(doc.rig.mount.offset_m), _vector3(doc.rig.mount.rotation_deg)))
    reg = doc.registration
    registration = Registration(np.array(reg.homography, dtype=float), np.array(reg.parallax, dtype=float),
                                reg.residual_px, reg.pairs, reg.source)
    dist = doc.distance
    distance = DistanceCurve(tuple(dist.canthus), tuple(dist.forehead), (dist.range_m[0], dist.range_m[1]),
                             dist.residual_c, dist.captures)
    blackbody = None
    if doc.blackbody is not None:
        bb = doc.blackbody
        r0, c0, r1, c1 = bb.region
        if r1 > thermal.rows or c1 > thermal.cols:
            raise CalibrationError(f"{source}: blackbody.region = {bb.region!r}: {REGION_RULE} "
                                   f"({thermal.rows}x{thermal.cols})")
        blackbody = Blackbody((r0, c0, r1, c1), bb.set_point_c, bb.reference_reading_c)
    return Calibration(rig, registration, distance, Ambient(doc.ambient.ta_offset_c), blackbody, doc.created, source)


def load(path: Path) -> Calibration:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the calibration file: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CalibrationError(f"{path}: not a kiosk thermal calibration file (\"format\" must be \"{FORMAT}\")")
    return from_dict(data, str(path))


def save(calibration: Calibration, path: Path) -> None:
    """Write atomically (temporary file, then rename), so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(to_dict(calibration), indent=2) + "\n").encode("utf-8"), mode=0o644)
