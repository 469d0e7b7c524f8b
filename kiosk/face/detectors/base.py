"""The detector interface: every backend returns `Detection`s in frame pixels."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class KeypointLayout(StrEnum):
    """Which points a detector gives, in order ("left" = on the image-left)."""

    blazeface6 = "blazeface6"   # left eye, right eye, nose tip, mouth centre, left ear tragion, right ear tragion
    five_point = "five_point"   # left eye, right eye, nose tip, left mouth corner, right mouth corner


def box_of(values: Iterable[float]) -> tuple[float, float, float, float]:
    """A `Detection.box` from four numbers (x1, y1, x2, y2), as Python floats."""
    x1, y1, x2, y2 = (float(v) for v in values)
    return x1, y1, x2, y2


@dataclass
class Detection:
    box: tuple[float, float, float, float]   # x1, y1, x2, y2
    score: float
    keypoints: np.ndarray                     # (k, 2) float32, frame pixels
    layout: KeypointLayout

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


class FaceDetector(ABC):
    """Finds faces in a BGR uint8 frame. Not thread-safe: one instance per thread."""

    name: str
    layout: KeypointLayout

    @abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Faces above the score threshold, largest first."""


def largest_first(detections: list[Detection]) -> list[Detection]:
    return sorted(detections, key=lambda d: d.width, reverse=True)
