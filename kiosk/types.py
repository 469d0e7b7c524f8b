"""Observations passed between the pipeline stages (face, thermal, matching, policy)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

Box = tuple[float, float, float, float]   # x1, y1, x2, y2 in frame pixels


@dataclass
class FaceQuality:
    ok: bool
    reason: Optional[str] = None      # operator-facing hint when not ok: "move closer", "look at the camera", ...
    face_px: float = 0.0              # face box width in pixels
    yaw_deg: float = 0.0
    sharpness: float = 0.0            # variance of the Laplacian of the chip
    brightness: float = 0.0           # mean luminance of the face


@dataclass
class FaceObservation:
    """One face in one camera frame."""

    box: Box
    score: float
    keypoints: np.ndarray                   # (k, 2) frame pixels; order given by the detector (see kiosk.face)
    quality: FaceQuality = field(default_factory=lambda: FaceQuality(ok=True))
    embedding: Optional[np.ndarray] = None  # set only when quality.ok
    model_id: Optional[str] = None
    mask_score: Optional[float] = None      # 0..1, None when not checked
    # (5, 2) eye centres, nose tip, mouth corners from the landmark stage (kiosk.face.landmarks): the
    # points the face was aligned and yaw-gated on. None when face.landmarks = "detector".
    landmarks: Optional[np.ndarray] = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    def required_embedding(self) -> np.ndarray:
        """The embedding of a face that passed the quality gates (embed_for_enrollment); ValueError without one."""
        if self.embedding is None:
            raise ValueError("this face has no embedding (it did not pass the quality gates)")
        return self.embedding


@dataclass
class MatchResult:
    person_id: Optional[str]          # None = no enrolled person within the threshold
    distance: float                   # distance to the best person (inf when the gallery is empty)
    margin: float                     # second-best distance minus best distance
    threshold: float


@dataclass
class TemperatureReading:
    body_c: Optional[float]           # estimated core temperature; None when it cannot be measured
    skin_c: Optional[float]           # measured face (inner canthus / forehead) temperature after compensation
    quality: float                    # 0..1; below the configured minimum = no verdict
    uncertainty_c: float
    distance_m: Optional[float]
    reason: Optional[str] = None      # why quality is low: "come closer", "stand still", "face not in thermal view"


@dataclass
class LivenessResult:
    live: bool
    score: float                      # 0..1
    reason: str                       # "warm skin", "no heat where the face is", ...
