"""Builders shared by the gate/policy tests."""
from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, Optional

import numpy as np

from kiosk.config import KioskConfig, parse_config
from kiosk.policy import PersonInfo
from kiosk.types import FaceObservation, FaceQuality, LivenessResult, MatchResult, TemperatureReading

AT = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)     # a Wednesday, 10:00 UTC
STAFF = PersonInfo("p-ada", "E001", "Ada Lovelace", "staff")
STAFF_2 = PersonInfo("p-alan", "E002", "Alan Turing", "staff")
VISITOR = PersonInfo("p-vis", "V100", "Grace Hopper", "visitor", valid_from=datetime(2026, 3, 1, tzinfo=UTC),
                     valid_to=datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
LIVE = LivenessResult(True, 0.92, "warm skin")
PHOTO = LivenessResult(False, 0.05, "no heat where the face is")

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
