"""Track fusion: match the walk-up, not one frame.

One frame's embedding carries that frame's noise (pose, expression, blur, sensor noise), which
is largely independent from frame to frame, while the identity stays. The recognizer therefore
matches the quality-weighted mean of the face's last `window` good frames: one search finds the
person nearest to the walk-up as a whole. A mean keeps every frame's information; best-k by a
quality score would throw frames away on a score (the detector's) that says little about a frame
that already passed the quality gates. Cosine models average unit vectors (their length means
nothing); Euclidean models (dlib) average the raw vectors, whose length the metric uses.

The match is scored by the frames' own mean distance to the person (`frames_distance`, exact
from the fused vector's distance), not by the fused vector's distance: averaging removes the
noise from the fused vector, which brings a stranger closer to everyone, and the thresholds (and
the security levels behind them) were measured on single photos. The frames' mean distance keeps
their scale; what fusion buys is its steadiness: a person whose frames are within the threshold
on average is no longer dropped by one blurred frame, and a stranger whose frames are beyond it on
average no longer gets in on a lucky one.

A fused vector must never mix two people. The fusion starts afresh when
- the face jumps (box overlap with the previous one below NEW_FACE_IOU, as in the tracker),
- the face was not seen for `timeout_s` (the tracker's track timeout), or
- the newest frame is farther than `max_distance` (the match threshold in force) from the fusion
  of the frames before it: someone who steps in right behind an employee, in the same place,
  is not averaged into the employee's vector.

Pure and synchronous; time comes in as an argument (tests drive it without sleeping). Used by the
recognizer on the inference thread.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..face.boxes import iou
from ..face.metrics import distance
from ..face.spec import Metric
from ..types import Box, MatchResult
from .observations import NEW_FACE_IOU

if TYPE_CHECKING:
    from .matching import Matcher


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

    def frames_distance(self, fused_distance: float) -> float:
        """The frames' own (weighted) mean distance to a template, exactly, from the matcher's distance
        between the fused vector and that template (see the module's docstring for why).

        Euclidean: the root mean square, as mean |x_i - t|^2 = |mean - t|^2 + mean |x_i - mean|^2.
        Cosine (unit frames u_i, unit template t): mean (1 - u_i.t) = 1 - |mean u| (1 - d), where the
        matcher's d = 1 - cos(mean u, t). Either way the order of the templates does not change.
        """
        mean = self.fused()
        if mean is None or not np.isfinite(fused_distance):   # None: no frames
            return fused_distance
        if self.metric == Metric.cosine:
            return 1.0 - float(np.linalg.norm(mean)) * (1.0 - fused_distance)
        weights = np.array([f.weight for f in self._frames], np.float32)
        spread = np.sum((np.stack([f.vector for f in self._frames]) - mean) ** 2, axis=1)
        return float(np.sqrt(fused_distance ** 2 + float(weights @ spread) / float(weights.sum())))

    def search(self, matcher: Matcher, threshold: float) -> MatchResult:
        """The nearest enrolled person to the fused vector, scored by the frames' mean distance
        (`frames_distance`) and accepted when that is within `threshold`. Needs at least one frame."""
        fused = self.fused()
        if fused is None:
            raise ValueError("no frame to match: add an embedding first")
        nearest = matcher.search(fused, math.inf)
        if not math.isfinite(nearest.distance):
            return MatchResult(None, math.inf, math.inf, threshold)       # nobody enrolled
        score = self.frames_distance(nearest.distance)
        margin = self.frames_distance(nearest.distance + nearest.margin) - score
        return MatchResult(nearest.person_id if score <= threshold else None, score, margin, threshold)
