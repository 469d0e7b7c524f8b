"""Corrections between what the sensor reports and the face's true surface temperature.

- Distance: a face's hottest spots (inner canthi) are smaller than a thermal pixel, and the farther
  the face the more each pixel averages them with cooler skin. A calibration tool reads a reference
  face at several distances and fits, per site, the offset to add as a polynomial in distance.
- Ambient: the room temperature feeds the skin-to-core model. A fixed value from the configuration
  (`temperature.ambient_sensor_c`, e.g. an external sensor) wins; otherwise the sensor's own die
  temperature minus its self-heating (fitted by `calibrate ambient`, 8 C by default as Melexis
  assumes in open air).
- Blackbody: an optional reference emitter in the sensor's view. The calibration stores what the
  sensor read on it when the rig was calibrated; any later difference is sensor drift and is taken
  off every pixel, live.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

DEFAULT_TA_OFFSET_C = 8.0


@dataclass(frozen=True)
class DistanceCurve:
    canthus: tuple[float, ...]     # polynomial coefficients, lowest order first: offset = sum c_k d^k
    forehead: tuple[float, ...]
    range_m: tuple[float, float]   # distances the curve was fitted on (the supported range)
    residual_c: Optional[float] = None
    captures: int = 0

    def offsets(self, distance_m: float) -> tuple[float, float]:
        """Offsets (canthus, forehead) to add at `distance_m`, held constant outside the fitted range."""
        d = float(np.clip(distance_m, *self.range_m))
        return (float(np.polynomial.polynomial.polyval(d, self.canthus)),
                float(np.polynomial.polynomial.polyval(d, self.forehead)))


def fit_distance_curve(distance_m: np.ndarray, canthus_read: np.ndarray, forehead_read: np.ndarray,
                       canthus_true: np.ndarray, forehead_true: np.ndarray, degree: int = 2) -> DistanceCurve:
    """Least-squares polynomial offsets from readings of a reference face of known temperature."""
    distance_m = np.asarray(distance_m, dtype=float)
    if len(np.unique(np.round(distance_m, 2))) <= degree:
        raise ValueError(f"a degree-{degree} distance curve needs readings at {degree + 1} or more distances")
    c_err = np.asarray(canthus_true, float) - np.asarray(canthus_read, float)
    f_err = np.asarray(forehead_true, float) - np.asarray(forehead_read, float)
    c_coef = np.polynomial.polynomial.polyfit(distance_m, c_err, degree)
    f_coef = np.polynomial.polynomial.polyfit(distance_m, f_err, degree)
    curve = DistanceCurve(tuple(map(float, c_coef)), tuple(map(float, f_coef)),
                          (float(distance_m.min()), float(distance_m.max())), None, len(distance_m))
    left = np.array([c_err - curve.offsets(d)[0] for d, c_err in zip(distance_m, c_err, strict=True)])
    right = np.array([f_err - curve.offsets(d)[1] for d, f_err in zip(distance_m, f_err, strict=True)])
    residual = float(np.sqrt(np.mean(np.concatenate([left, right]) ** 2)))
    return DistanceCurve(curve.canthus, curve.forehead, curve.range_m, residual, len(distance_m))


@dataclass(frozen=True)
class Ambient:
    ta_offset_c: float = DEFAULT_TA_OFFSET_C   # sensor die temperature minus room temperature

    def room_c(self, sensor_ta_c: float, fixed_c: Optional[float] = None) -> float:
        return float(fixed_c) if fixed_c is not None else float(sensor_ta_c) - self.ta_offset_c


def fit_ambient(sensor_ta_c: np.ndarray, room_c: float) -> Ambient:
    """Self-heating from frames taken while the room temperature is known (a reference thermometer)."""
    return Ambient(float(np.mean(sensor_ta_c)) - float(room_c))


@dataclass(frozen=True)
class Blackbody:
    region: tuple[int, int, int, int]   # row0, col0, row1, col1 (end exclusive) in the thermal frame
    set_point_c: float                  # the emitter's own controlled temperature
    reference_reading_c: float          # what the sensor read on it at calibration time

    @property
    def slices(self) -> tuple[slice, slice]:
        r0, c0, r1, c1 = self.region
        return slice(r0, r1), slice(c0, c1)

    def reading(self, temperatures: np.ndarray) -> float:
        return float(np.median(temperatures[self.slices]))

    def drift_c(self, temperatures: np.ndarray) -> float:
        """How far the sensor has drifted since calibration (add its negative to every pixel)."""
        return self.reading(temperatures) - self.reference_reading_c

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, dtype=bool)
        mask[self.slices] = True
        return mask


def find_blackbody(temperatures: np.ndarray) -> tuple[int, int, int, int]:
    """The hottest compact spot of a frame with nobody in view, as the bounding box of its plateau: the
    pixels within 5 % of the peak's rise over the median. Only pixels the reference fills entirely
    belong there: a partly covered pixel would follow the room temperature, not the sensor's drift."""
    temperatures = np.asarray(temperatures, dtype=float)
    background = float(np.median(temperatures))
    peak = float(temperatures.max())
    if peak - background < 2.0:
        raise ValueError(f"no warm reference in view (hottest pixel {peak:.1f} C, background {background:.1f} C)")
    rows, cols = np.nonzero(temperatures >= peak - 0.05 * (peak - background))
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def fit_blackbody(frames: list[np.ndarray], region: tuple[int, int, int, int], set_point_c: float) -> Blackbody:
    """The reference reading: median over the frames of the region's median."""
    probe = Blackbody(region, set_point_c, 0.0)
    return Blackbody(region, set_point_c, float(np.median([probe.reading(f) for f in frames])))
