"""Mask score: does something other than skin cover the lower face?

No mask model with a usable licence ships on PyPI that runs without TensorFlow, so this is a
colour comparison, not a learnt classifier. The face is aligned to a small fixed template from
the detector's keypoints; the skin colour of the nose bridge and upper cheeks (rarely covered:
masks sit below the eyes) is compared in CIE Lab with the mouth-and-chin region. A mask of
another colour than skin shifts chroma (a*, b*) and usually lightness; a bare mouth and chin
keep the skin's chroma. The score is a logistic function of that difference, 0 = bare, 1 = covered.

Limits: a mask close to skin colour scores low; a beard or a hand over the mouth scores high.
The README gives the measured accuracy.
"""
from __future__ import annotations

import cv2
import numpy as np

from .align import align
from .detectors.base import Detection

SIZE = 64
# Five-point template (eyes, nose tip, mouth corners) in a 64 px face frame.
TEMPLATE = np.array([[20.0, 22.0], [44.0, 22.0], [32.0, 36.0], [22.5, 46.0], [41.5, 46.0]], np.float32)
# Regions as (x1, y1, x2, y2) in that frame.
UPPER = [(27, 17, 37, 26),            # nose bridge between the eyes
         (14, 27, 22, 32), (42, 27, 50, 32)]   # upper cheeks under the eyes
LOWER = [(20, 41, 44, 56)]            # mouth and chin

# Logistic weights on the Lab differences, fitted (log-loss) on the 43 MFR2 dev images of ../shared
# (see the README for how they were chosen and measured).
WEIGHTS = {"chroma": 0.175, "lightness": 0.045, "bias": -3.5}


def _mean_lab(lab: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
    pixels = np.concatenate([lab[y1:y2, x1:x2].reshape(-1, 3) for x1, y1, x2, y2 in regions])
    return np.median(pixels, axis=0)


def features(image_bgr: np.ndarray, detection: Detection) -> dict[str, float]:
    """Chroma and lightness difference between the lower and the upper face (Lab units, 0..255 scale)."""
    face, _ = align(image_bgr, detection.keypoints, detection.layout, TEMPLATE, (SIZE, SIZE))
    lab = cv2.cvtColor(face, cv2.COLOR_BGR2LAB).astype(np.float32)
    upper = _mean_lab(lab, UPPER)
    lower = _mean_lab(lab, LOWER)
    return {"chroma": float(np.hypot(lower[1] - upper[1], lower[2] - upper[2])),
            "lightness": float(abs(lower[0] - upper[0]))}


def mask_score(image_bgr: np.ndarray, detection: Detection) -> float:
    f = features(image_bgr, detection)
    z = WEIGHTS["chroma"] * f["chroma"] + WEIGHTS["lightness"] * f["lightness"] + WEIGHTS["bias"]
    return float(1.0 / (1.0 + np.exp(-z)))
