"""Finding the face in a tightly cropped photo (test sets, training data).

BlazeFace was trained on faces with surroundings; a crop that ends at the chin, especially of
a masked face, often scores below the detection threshold. Such an image is tried once more with
a border of its own mean colour (25% of its longer side each way), which measured better than a
black or replicated border on synthetic masked crops (README, "Mask score").
Frames of a kiosk camera already have surroundings; this only matters for cropped photos.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import cv2
import numpy as np

from .detectors.base import Detection

BORDER = 0.25


class Detects(Protocol):
    """A FaceDetector, or a FacePipeline (whose `detect` adds the landmark stage's points, if any)."""

    def detect(self, image_bgr: np.ndarray) -> list[Detection]: ...


@dataclass
class Found:
    image: np.ndarray                 # the image the detection refers to (with the border, if one was added)
    detection: Optional[Detection]    # the largest face, or None
    with_border: bool                 # True when the face was found only after adding the border


def with_mean_border(image_bgr: np.ndarray, fraction: float = BORDER) -> np.ndarray:
    pad = int(max(image_bgr.shape[:2]) * fraction)
    colour = [float(v) for v in image_bgr.reshape(-1, 3).mean(axis=0)]
    return cv2.copyMakeBorder(image_bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=colour)


def find_face(detector: Detects, image_bgr: np.ndarray) -> Found:
    """The largest face in the image as it is, else in the image with a mean-colour border."""
    faces = detector.detect(image_bgr)
    if faces:
        return Found(image_bgr, faces[0], False)
    padded = with_mean_border(image_bgr)
    faces = detector.detect(padded)
    return Found(padded, faces[0] if faces else None, bool(faces))
