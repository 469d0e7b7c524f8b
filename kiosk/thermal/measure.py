"""Body temperature of one face in one thermal frame.

1. Sensor drift is taken off every pixel when a blackbody reference is calibrated.
2. The face's regions (inner canthi, forehead, the face as a whole) are mapped onto the sensor's grid
   (kiosk.thermal.roi) at the distance its size in the camera image gives.
3. Pixels the face only partly fills are unmixed from the local background
   (T_face = T_bg + (T_pixel - T_bg) / fill), so a small face is not read cold; pixels filled less
   than half are not used.
4. The forehead site is the 75th percentile of the forehead pixels the face fills; the inner-canthus
   site the 2x2-smoothed value just above the two canthi (stable against where the sub-pixel hot
   spot falls on the grid), or the 90th percentile of the canthus pixels for a face too small for that.
5. The distance curve adds what a reference face of known temperature showed the sensor to miss at
   that distance; the skin-to-core model turns both sites and the room temperature into an
   estimated body temperature.

Every reading carries a quality (0..1) and an uncertainty; a quality below
`temperature.min_quality` comes with the reason the person can act on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from drivers.thermal.base import ThermalFrame

from ..config.temperature import TemperatureConfig
from ..types import FaceObservation, TemperatureReading
from .calibration import Calibration
from .roi import FaceRoi, map_face
from .skin_core import MODEL

NOT_IN_VIEW, COME_CLOSER, STAND_STILL = "face not in thermal view", "come closer", "stand still"
MIN_FILL = 0.5            # pixels filled less than this by the face are not unmixed
FULL_FILL = 0.9           # pixels filled at least this much count as "really filled"
FULL_PIXELS_NEEDED = 6    # fewer really filled pixels: the face is too small on the grid
MODEL_SD_C = 0.31         # SD of the skin-to-core model's cross-validated error on the FDA data
PIXEL_NOISE_C = 0.15      # MLX90640 per-pixel noise at 8 Hz, 18 bit (datasheet order of magnitude)
STILL_PX = 0.35           # face centre movement between frames (thermal pixels) still counted as still
BEYOND_RANGE_QUALITY = 0.4
MAX_DRIFT_C = 2.5          # larger blackbody "drift" means the reference is blocked or off
DISTANCE_SLACK_M = 0.05   # distance estimates from face size are only good to a few centimetres


@dataclass(frozen=True)
class SiteReading:
    """Raw site temperatures of one face, before the distance curve (what calibration fits against)."""

    canthus_c: float
    forehead_c: float
    background_c: float
    distance_m: float
    pixels: int               # unmixed pixels the sites used
    full_pixels: int          # pixels the face fills at least FULL_FILL
    in_view: float
    centre: np.ndarray        # face centre in thermal pixels


def corrected_temperatures(frame: ThermalFrame, calibration: Calibration) -> np.ndarray:
    """The frame with the blackbody-measured drift taken off (a copy, float64).

    A drift larger than MAX_DRIFT_C is not sensor drift but a blackbody that is occluded (a head in
    front of it), switched off or moved: then nothing is corrected.
    """
    temperatures = np.asarray(frame.temperatures, dtype=np.float64)
    if calibration.blackbody is not None:
        drift = calibration.blackbody.drift_c(temperatures)
        if abs(drift) <= MAX_DRIFT_C:
            temperatures = temperatures - drift
    return temperatures


def _background(temperatures: np.ndarray, roi: FaceRoi, calibration: Calibration) -> Optional[float]:
    rows = np.arange(temperatures.shape[0])[:, None]
    around = (roi.ring > 0) & (roi.head == 0) & (rows <= roi.centre[1])   # beside and above the head, not the body
    if calibration.blackbody is not None:
        around &= ~calibration.blackbody.mask(temperatures.shape)
    return float(np.median(temperatures[around])) if around.any() else None


def _smoothed_above(temperatures: np.ndarray, points: np.ndarray) -> Optional[float]:
    """Mean over `points` of the 2x2-box-smoothed image, interpolated half a pixel above each point.

    An inner canthus is a hot spot smaller than a pixel beyond 30 cm: it lands in one pixel or is
    split between up to four, depending on where it falls. A 2x2 average keeps all of it, so the
    value barely depends on the spot's sub-pixel position (peak picking varies by tenths of a degree).
    Centring the average half a pixel above the canthus keeps it off the nose bridge and the top of a
    mask. The distance curve then restores the level.
    """
    values = []
    rows, cols = temperatures.shape
    for x, y in points:
        # Smoothed value at (x, y - 0.5) = bilinear interpolation of the 2x2 block means, whose
        # centres sit on pixel corners (c + 0.5, r + 0.5).
        gx, gy = x - 0.5, y - 1.0
        x0, y0 = int(np.floor(gx)), int(np.floor(gy))
        if not (0 <= x0 and x0 + 2 < cols and 0 <= y0 and y0 + 2 < rows):
            return None
        patch = temperatures[y0:y0 + 3, x0:x0 + 3]
        blocks = (patch[:-1, :-1] + patch[1:, :-1] + patch[:-1, 1:] + patch[1:, 1:]) / 4
        tx, ty = gx - x0, gy - y0
        values.append(blocks[0, 0] * (1 - tx) * (1 - ty) + blocks[0, 1] * tx * (1 - ty)
                      + blocks[1, 0] * (1 - tx) * ty + blocks[1, 1] * tx * ty)
    return float(np.mean(values))


def read_sites(temperatures: np.ndarray, roi: FaceRoi, calibration: Calibration,
               room_c: float) -> Optional[SiteReading]:
    """Site temperatures before the distance curve; None when the canthi fall on no usable pixel.

    Forehead: a high percentile of the pixels the face fills (almost) entirely. Inner canthi: the
    sub-pixel-stable smoothed value at the two canthi (see _smoothed_above), provided the face fills the
    pixels around them. Only when a site has no such pixels, as for a small face, are pixels filled at
    least half unmixed from the background beside the head.
    """
    background = _background(temperatures, roi, calibration)
    background = room_c if background is None else background
    filled = roi.face >= FULL_FILL
    usable = roi.face >= MIN_FILL
    unmixed = background + (temperatures - background) / np.maximum(roi.face, MIN_FILL)

    def site(near: np.ndarray, percentile: float) -> tuple[Optional[float], int]:
        for pixels, values in ((near & filled, temperatures), (near & usable, unmixed)):
            if pixels.any():
                return float(np.percentile(values[pixels], percentile)), int(pixels.sum())
        return None, 0

    canthi_px = roi.canthi > 0.05
    if (canthi_px & filled).sum() >= 2:
        canthus, canthus_n = _smoothed_above(temperatures, roi.canthi_points), int((canthi_px & filled).sum())
    else:
        canthus, canthus_n = site(canthi_px, 90)
    if canthus is None:
        return None
    forehead, forehead_n = site(roi.forehead >= 0.3, 75)
    if forehead is None:
        forehead = canthus - MODEL.gap_intercept
    return SiteReading(canthus, forehead, background, roi.distance_m, canthus_n + forehead_n,
                       int(filled.sum()), roi.in_view, roi.centre)


def _quality(sites: SiteReading, max_distance_m: float, motion_px: float) -> tuple[float, Optional[str]]:
    """(quality, reason of its weakest factor)."""
    factors = {
        NOT_IN_VIEW: float(np.clip((sites.in_view - 0.6) / 0.3, 0.0, 1.0)),
        COME_CLOSER: min(1.0, sites.full_pixels / FULL_PIXELS_NEEDED) * (
            1.0 if sites.distance_m <= max_distance_m + DISTANCE_SLACK_M
            else BEYOND_RANGE_QUALITY * float(np.clip(1 - (sites.distance_m - max_distance_m) / 0.5, 0.0, 1.0))),
        STAND_STILL: float(np.clip(1 - (motion_px - STILL_PX) / 1.0, 0.0, 1.0)),
    }
    quality = math.prod(factors.values())
    weakest = min(factors, key=factors.__getitem__)
    return quality, (weakest if factors[weakest] < 1.0 else None)


def measure(frame: ThermalFrame, face: FaceObservation, frame_size: tuple[int, int], calibration: Calibration,
            config: TemperatureConfig, motion_px: float = 0.0) -> TemperatureReading:
    """Estimated body temperature of `face` (from a camera frame of `frame_size` = (width, height)).

    `motion_px` is how far the face moved on the thermal grid since the previous frame
    (FaceThermometer tracks it); more than a third of a pixel lowers quality ("stand still").
    """
    return measure_roi(frame, map_face(face, frame_size, calibration), calibration, config, motion_px)


def measure_roi(frame: ThermalFrame, roi: FaceRoi, calibration: Calibration, config: TemperatureConfig,
                motion_px: float = 0.0) -> TemperatureReading:
    """`measure` for a face already mapped onto the thermal grid."""
    if frame.resolution != roi.face.shape:
        raise ValueError(f"a {frame.resolution[0]}x{frame.resolution[1]} thermal frame cannot be measured with a "
                         f"calibration for {roi.face.shape[0]}x{roi.face.shape[1]} pixels")
    temperatures = corrected_temperatures(frame, calibration)
    room = calibration.ambient.room_c(frame.ambient_c, config.ambient_sensor_c)
    sites = read_sites(temperatures, roi, calibration, room)
    if sites is None:
        return TemperatureReading(None, None, 0.0, math.inf, roi.distance_m, NOT_IN_VIEW)
    c_offset, f_offset = calibration.distance.offsets(sites.distance_m)
    canthus, forehead = sites.canthus_c + c_offset, sites.forehead_c + f_offset
    body = MODEL.body(canthus, forehead, room)
    quality, weakest = _quality(sites, config.max_distance_m, motion_px)
    beyond = max(0.0, sites.distance_m - calibration.distance.range_m[1])
    measurement_sd = math.sqrt((calibration.distance.residual_c or 0.2) ** 2
                               + PIXEL_NOISE_C ** 2 / max(sites.pixels, 1) + (0.5 * beyond) ** 2)
    uncertainty = math.hypot(MODEL_SD_C, (MODEL.canthus + MODEL.forehead) * measurement_sd)
    reason = weakest if quality < config.min_quality else None
    return TemperatureReading(round(body, 2), round(canthus, 2), round(quality, 3), round(uncertainty, 2),
                              round(sites.distance_m, 3), reason)


class FaceThermometer:
    """Per-kiosk measurement state: remembers where the face was to tell a moving face ("stand still").

    Call `measure` from one worker thread per kiosk; `reset` when the person leaves.
    """

    def __init__(self, calibration: Calibration, config: TemperatureConfig, max_gap_s: float = 1.0) -> None:
        self.calibration = calibration
        self.config = config
        self.max_gap_s = max_gap_s
        self._last: Optional[tuple[float, np.ndarray]] = None

    def measure(self, frame: ThermalFrame, face: FaceObservation, frame_size: tuple[int, int]) -> TemperatureReading:
        roi = map_face(face, frame_size, self.calibration)
        motion = 0.0
        if self._last is not None and 0 <= frame.timestamp - self._last[0] <= self.max_gap_s:
            motion = float(np.linalg.norm(roi.centre - self._last[1]))
        self._last = (frame.timestamp, roi.centre)
        return measure_roi(frame, roi, self.calibration, self.config, motion)

    def reset(self) -> None:
        self._last = None
