"""What perception hands to the decision layer: one face in one frame, and the enrolled person it matched.

The recognizer fills these and the tracker and policy (kiosk.access) read them; they live here, below
both, so perception never imports the decision layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Optional

from ..types import FaceObservation, LivenessResult, MatchResult, TemperatureReading

NEW_FACE_IOU = 0.1      # a face box overlapping the previous one less than this is a new face (tracker and fusion)


@dataclass(frozen=True)
class PersonInfo:
    """What the policy needs of an enrolled person (docs/contracts.md section 2, `person`)."""

    person_id: str
    employee_no: str
    name: str
    role: str                                   # "staff" | "visitor" (any role named in access.schedules)
    valid_from: Optional[datetime] = None       # aware, or naive = device local time
    valid_to: Optional[datetime] = None         # exclusive, as in kiosk.store (Person.is_valid_at)
    schedule: Optional[str] = None              # a role name from access.schedules, or windows "mon-fri 08:00-12:00; ..."
    status: str = "active"                      # "active" | "suspended"

    @classmethod
    def from_record(cls, person_id: str, person: dict[str, Any]) -> PersonInfo:
        """From the `person` part of a fleet person record or `store.Person.record()`; ISO times (a date
        alone means from the start of that day / until the end of that day)."""
        return cls(person_id=person_id, employee_no=str(person.get("employee_no") or ""),
                   name=str(person.get("name") or ""), role=str(person.get("role") or ""),
                   valid_from=_parse_instant(person.get("valid_from"), end_of_day=False),
                   valid_to=_parse_instant(person.get("valid_to"), end_of_day=True),
                   schedule=person.get("schedule") or None, status=str(person.get("status") or "active"))

    def as_event(self) -> dict[str, str]:
        return {"person_id": self.person_id, "employee_no": self.employee_no, "name": self.name, "role": self.role}


@dataclass
class FaceSample:
    """One face in one frame, with what the other stages found for it."""

    face: FaceObservation
    match: Optional[MatchResult] = None              # None = no embedding (face quality gates)
    person: Optional[PersonInfo] = None              # record of match.person_id, looked up by the caller
    temperature: Optional[TemperatureReading] = None
    liveness: Optional[LivenessResult] = None


def _parse_instant(value: Any, *, end_of_day: bool) -> Optional[datetime]:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    if len(text) == 10:   # a date alone: the whole day (valid_to is exclusive: the next midnight)
        day = date.fromisoformat(text)
        return datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
