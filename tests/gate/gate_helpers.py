"""Builders shared by the gate/policy tests, and a gate listener to wait on."""
from __future__ import annotations

import asyncio
import copy
import threading
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Optional

import numpy as np

from kiosk.config import KioskConfig, parse_config
from kiosk.recognition.observations import PersonInfo
from kiosk.types import FaceObservation, FaceQuality, LivenessResult, MatchResult, TemperatureReading

AT = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)     # a Wednesday, 10:00 UTC
STAFF = PersonInfo("p-ada", "E001", "Ada Lovelace", "staff")
STAFF_2 = PersonInfo("p-alan", "E002", "Alan Turing", "staff")
VISITOR = PersonInfo("p-vis", "V100", "Grace Hopper", "visitor", valid_from=datetime(2026, 3, 1, tzinfo=UTC),
                     valid_to=datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
LIVE = LivenessResult(True, 0.92, "warm skin")
PHOTO = LivenessResult(False, 0.05, "no heat where the face is")

# Only a guard against hanging: how long a test waits for something that should happen at once
# (or right after a short pulse). Tests wait for events and never assert durations this tight.
WAIT_S = 10.0

BASE: dict[str, Any] = {"thermal": {"backend": "mock"}, "device": {"timezone": "UTC"}}


def config(overrides: Optional[dict[str, Any]] = None) -> KioskConfig:
    data = copy.deepcopy(BASE)
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    return parse_config(data, "test")


def match(person: Optional[PersonInfo] = STAFF, distance: float = 0.30, margin: float = 0.20,
          threshold: float = 0.50) -> MatchResult:
    return MatchResult(person.person_id if person else None, distance, margin, threshold)


def reading(body: Optional[float] = 36.6, quality: float = 0.9, reason: Optional[str] = None) -> TemperatureReading:
    return TemperatureReading(body_c=body, skin_c=None if body is None else body - 2.5, quality=quality,
                              uncertainty_c=0.2, distance_m=0.5, reason=reason)


def face(x: float = 200.0, width: float = 160.0, mask: Optional[float] = None, ok: bool = True,
         reason: Optional[str] = None) -> FaceObservation:
    return FaceObservation(box=(x, 100.0, x + width, 100.0 + width * 1.2), score=0.9,
                           keypoints=np.zeros((6, 2), np.float32), quality=FaceQuality(ok=ok, reason=reason),
                           mask_score=mask)


class Transitions:
    """A `GateController` on_change listener that tests wait on instead of sleeping."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, float]] = []   # (unlocked, the controller's switch time)
        self._cond = threading.Condition()

    def __call__(self, unlocked: bool, at: float) -> None:
        with self._cond:
            self.seen.append((unlocked, at))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[tuple[bool, float]]:
        """The first `count` transitions, once heard (blocking); fails the test after `timeout`."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.seen) >= count, timeout):
                raise AssertionError(f"expected {count} gate transitions within {timeout:g} s, heard {self.seen}")
            return self.seen[:count]

    async def until(self, count: int, timeout: float = WAIT_S) -> list[tuple[bool, float]]:
        """`wait_for` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for, count, timeout)

    def pulses(self) -> list[tuple[float, float]]:
        """(unlocked at, locked at) of every complete pulse heard."""
        with self._cond:
            return [(on, off) for (up, on), (down, off) in pairwise(self.seen) if up and not down]
