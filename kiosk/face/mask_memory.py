"""Recent mask scores, so that the mask model does not run on every camera frame.

The AIZOO SSD costs about as much as an embedding, and a mask does not come or go between two
frames. A face whose box overlaps (IoU >= MIN_IOU) a box scored less than `max_age_s` ago keeps that
score. Camera frames only: enrollment photos and evaluation images are always scored, since two
photos of different people can put a face in the same place.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from ..types import Box
from .boxes import iou

MIN_IOU = 0.5


@dataclass
class _Scored:
    box: Box
    score: float
    at: float


class RecentMaskScores:
    """Scores of the faces seen in the last `max_age_s` seconds (0: nothing is kept)."""

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._scored: list[_Scored] = []

    def score(self, box: Box, compute: Callable[[], float]) -> float:
        """The kept score of a face at `box`, else `compute()` (then kept for `max_age_s`)."""
        now = self._clock()
        self._scored = [s for s in self._scored if now - s.at < self.max_age_s]
        kept = self._match(box)
        if kept is not None:
            return kept.score
        value = compute()
        if self.max_age_s > 0:
            self._scored.append(_Scored(box, value, now))
        return value

    def _match(self, box: Box) -> Optional[_Scored]:
        overlap, best = max(((iou(s.box, box), s) for s in self._scored), key=lambda pair: pair[0],
                            default=(0.0, None))
        return best if overlap >= MIN_IOU else None
