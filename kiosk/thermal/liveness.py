"""Thermal liveness: does the face the camera sees have the heat of living skin?

Three tests on the thermal pixels under the face, each scored 0..1 (0.5 at its threshold), the
score being the weakest of them:

- temperature: the inner-canthus site lies within [liveness.min_skin_c, liveness.max_skin_c].
  A printed photo sits at room temperature; most screens only a few degrees above it.
- contrast: the face is warmer than the background beside it by at least liveness.min_contrast_c.
- pattern: a face is not uniform. The pixels it fills spread over at least `min_spread_c`
  (warm canthi and forehead, cooler cheeks, nose, mask), and the nose tip is cooler than the
  inner canthi by at least `min_nose_drop_c`. A phone or tablet is a flat, even rectangle.

A face too small on the grid to show a pattern, farther than the supported distance, or outside
the thermal view, cannot be judged:
`check` then returns None (ask the person to come closer) unless it is already plainly too cold.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from drivers.thermal.base import ThermalFrame

from ..config.temperature import LivenessConfig
from ..types import FaceObservation, LivenessResult
from .calibration import Calibration
from .measure import DISTANCE_SLACK_M, FULL_FILL, corrected_temperatures, read_sites
from .roi import map_face

PATTERN_PIXELS = 4       # really filled face pixels needed to judge the pattern
MIN_SPREAD_C = 0.5       # 10th to 90th percentile of the face's pixels
MIN_NOSE_DROP_C = 0.15   # inner canthi minus nose tip (small: at 1 m one pixel holds both)


def _ramp(margin: float, width: float) -> float:
    """0.5 at margin 0, 1 at +width, 0 at -width."""
    return float(np.clip(0.5 + margin / (2 * width), 0.0, 1.0))


def check(frame: ThermalFrame, face: FaceObservation, frame_size: tuple[int, int], calibration: Calibration,
          config: LivenessConfig, room_c: Optional[float] = None,
          max_distance_m: float = 1.0) -> Optional[LivenessResult]:
    """LivenessResult for `face`, or None when the thermal image cannot tell yet.

    `room_c` is a known room temperature (temperature.ambient_sensor_c), `max_distance_m` the
    farthest supported face distance (temperature.max_distance_m): farther faces get no verdict
    unless plainly too cold.
    """
    temperatures = corrected_temperatures(frame, calibration)
    room = calibration.ambient.room_c(frame.ambient_c, room_c)
    roi = map_face(face, frame_size, calibration)
    sites = read_sites(temperatures, roi, calibration, room)
    if sites is None or roi.in_view < 0.6:
        return None
    skin = sites.canthus_c + calibration.distance.offsets(sites.distance_m)[0]
    scores = {
        "no heat where the face is": _ramp(skin - config.min_skin_c, 1.0),
        "too hot for skin": _ramp(config.max_skin_c - skin, 1.0),
    }
    filled = roi.face >= FULL_FILL
    if filled.sum() < PATTERN_PIXELS or sites.distance_m > max_distance_m + DISTANCE_SLACK_M:
        weakest = min(scores, key=scores.__getitem__)
        if scores[weakest] < config.min_score:
            return LivenessResult(False, round(scores[weakest], 3), weakest)
        return None
    values = temperatures[filled]
    scores["no contrast to the background"] = _ramp(float(np.median(values)) - sites.background_c
                                                     - config.min_contrast_c, 1.0)
    spread = float(np.percentile(values, 90) - np.percentile(values, 10))
    scores["uniform heat: a screen or an object, not a face"] = _ramp(spread - MIN_SPREAD_C, 0.2)
    nose = roi.nose > 0.05
    if nose.any():
        nose_c = float(np.average(temperatures[nose], weights=roi.nose[nose]))
        scores["nose not cooler than the eyes"] = _ramp(sites.canthus_c - nose_c - MIN_NOSE_DROP_C, 0.1)
    weakest = min(scores, key=scores.__getitem__)
    score = scores[weakest]
    live = score >= config.min_score
    return LivenessResult(live, round(score, 3), "warm skin" if live else weakest)
