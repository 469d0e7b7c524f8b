"""Finding the warm calibration target in both images.

The target is a heated disc (a dark, matt metal disc on a hot-water bottle, a lamp-warmed coaster)
on a light board: dark and round in the camera image, the warmest spot in the thermal image.
"""
from __future__ import annotations

import cv2
import numpy as np


class TargetNotFound(Exception):
    """The target is not visible, as one line."""


def camera_target(image: np.ndarray, min_area_px: float = 20.0) -> np.ndarray:
    """Sub-pixel centre (x, y) of the roundest dark blob in a BGR image that does not touch its border."""
    gray = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (3, 3), 0)
    threshold = (float(np.percentile(gray, 0.5)) + float(np.median(gray))) / 2
    dark = (gray < threshold).astype(np.uint8)
    contours, _ = cv2.findContours(dark, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    height, width = gray.shape
    best, best_score = None, 0.0
    for contour in contours:
        area = cv2.contourArea(contour)
        perimeter = cv2.arcLength(contour, True)
        x, y, w, h = cv2.boundingRect(contour)
        if area < min_area_px or perimeter <= 0 or x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue
        roundness = 4 * np.pi * area / perimeter ** 2
        if roundness > 0.8 and roundness * np.sqrt(area) > best_score:
            best, best_score = contour, roundness * np.sqrt(area)
    if best is None:
        raise TargetNotFound("no round dark target in the camera image")
    moments = cv2.moments(best)
    return np.array([moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]])


def thermal_target(temperatures: np.ndarray, background: np.ndarray | None = None, radius: int = 4,
                   min_rise_c: float = 3.0) -> np.ndarray:
    """Centre (col, row) of the warmest spot: centroid of the rise over the background around the peak.

    `background` is a frame of the same view without the target (other warm things, such as a
    blackbody, then drop out); without it the frame's median is the background. Area averaging keeps
    a blob's first moment, so the centroid of the rise is sub-pixel exact for a uniformly warm target
    however few pixels it covers.
    """
    temperatures = np.asarray(temperatures, dtype=float)
    rise = temperatures - (np.median(temperatures) if background is None else np.asarray(background, float))
    row, col = np.unravel_index(int(np.argmax(rise)), rise.shape)
    rise_peak = rise[row, col]
    if rise_peak < min_rise_c:
        raise TargetNotFound(f"no warm target in the thermal image (hottest {rise_peak:.1f} C above background)")
    r0, r1 = max(0, row - radius), min(temperatures.shape[0], row + radius + 1)
    c0, c1 = max(0, col - radius), min(temperatures.shape[1], col + radius + 1)
    window = rise[r0:r1, c0:c1]
    weights = np.where(window > 0.05 * rise_peak, window, 0.0)
    rows, cols = np.mgrid[r0:r1, c0:c1]
    height, width = temperatures.shape
    if ((r0 == 0 and weights[0].any()) or (r1 == height and weights[-1].any())
            or (c0 == 0 and weights[:, 0].any()) or (c1 == width and weights[:, -1].any())):
        raise TargetNotFound("the target touches the edge of the thermal image")
    total = weights.sum()
    return np.array([(weights * cols).sum() / total, (weights * rows).sum() / total])
