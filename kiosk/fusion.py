"""Track fusion: match the walk-up, not one frame.

One frame's embedding carries that frame's noise (pose, expression, blur, sensor noise), which
is largely independent from frame to frame, while the identity stays. The quality-weighted mean
of the last `window` good frames of one face therefore scatters about 1/sqrt(k) as much around
the person's own vector: genuine distances shrink, and a stranger loses the lucky frames that
fall within the threshold. A mean keeps every frame's information; best-k by a quality score
would throw frames away on a score (the detector's) that says little about a frame that already
passed the quality gates. Cosine models average unit vectors (their length means nothing);
Euclidean models (dlib) average the raw vectors, whose length the metric uses.

A fused vector must never mix two people. The fusion starts afresh when
- the face jumps (box overlap with the previous one below the tracker's NEW_FACE_IOU),
- the face was not seen for `timeout_s` (the tracker's track timeout), or
- the newest frame is farther than `max_distance` (the match threshold in force) from the fusion
  of the frames before it: someone who steps in right behind an employee, in the same place,
  is not averaged into the employee's vector.

Pure and synchronous; time comes in as an argument (tests drive it without sleeping). Used by the
recognizer on the inference thread.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .face.metrics import distance
from .face.spec import Metric
from .tracker import NEW_FACE_IOU, Box, iou


@dataclass(frozen=True)
class _Frame:
    vector: np.ndarray   # unit vector (cosine) or the raw embedding (Euclidean)
    weight: float


class TrackFusion:
    def __init__(self, metric: Metric | str, max_distance: float, window: int = 8, timeout_s: float = 2.0) -> None:
        if window < 1:
            raise ValueError(f"fusion window must be at least 1 frame, got {window}")
        self.metric = Metric(metric)
        self.max_distance = float(max_distance)
        self.timeout_s = float(timeout_s)
        self._frames: deque[_Frame] = deque(maxlen=window)
        self._box: Optional[Box] = None
        self._last_seen = -np.inf
        self.resets = 0          # times a face jump, a gap or a disagreeing frame started a new fusion

    def __len__(self) -> int:
        return len(self._frames)

    def reset(self) -> None:
        if self._frames:
            self.resets += 1
        self._frames.clear()

    def add(self, embedding: Optional[np.ndarray], quality: float, box: Box, t: float) -> None:
        """One frame's largest face; `embedding` None = seen but not good enough to embed (it still
        moves the box and the clock). `quality` > 0 weighs the frame (the detector's score)."""
        if t - self._last_seen > self.timeout_s or (self._box is not None and iou(self._box, box) < NEW_FACE_IOU):
            self.reset()
        self._box, self._last_seen = box, t
        if embedding is None:
            return
        vector = np.asarray(embedding, np.float32).reshape(-1)
        if self.metric == Metric.cosine:
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        before = self.fused()
        if before is not None and (before.size != vector.size
                                   or distance(before, vector, self.metric) > self.max_distance):
            self.reset()         # the newest frame is not the face fused so far: someone else
        self._frames.append(_Frame(vector, max(float(quality), 1e-6)))

    def fused(self) -> Optional[np.ndarray]:
        """The quality-weighted mean of the frames in the window, or None when there are none."""
        if not self._frames:
            return None
        weights = np.array([f.weight for f in self._frames], np.float32)
        stacked = np.stack([f.vector for f in self._frames])
        return (weights @ stacked) / weights.sum()
