"""The event contract (docs/contracts.md section 1) as one pydantic model.

It is the single source of the event's structure: the store checks an event against it before
numbering and signing it, the MQTT service before publishing it, and the published JSON Schema
(`kiosk/mqtt/schemas/event.schema.json`) is generated from it:

    python -m kiosk.event_model > kiosk/mqtt/schemas/event.schema.json

(tests/mqtt/test_mqtt_schemas.py fails when the file and the model differ). Checking never changes
the event: the signed bytes are those of the dict as given.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

EventType = Literal["attendance", "access_granted", "access_denied", "fever_alert", "spoof_attempt", "unknown_face",
                    "door_held_open", "door_forced_open", "gate_opened", "alarm"]
HEX32 = r"^[0-9a-f]{32}$"
ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Person(_Part):
    """Name and role are left out of attendance events unless mqtt.attendance_fields names them."""
    person_id: str
    employee_no: str
    name: Optional[str] = None
    role: Optional[Literal["staff", "visitor"]] = None


class Candidate(_Part):
    """The best match of a face that was not identified (spoof, unknown, ambiguous, liveness unavailable);
    such events have person = null."""
    person_id: str
    employee_no: str


class Temperature(_Part):
    body_c: Optional[float]
    skin_c: Optional[float]
    quality: float = Field(ge=0, le=1)
    fever: Optional[bool]


class Liveness(_Part):
    live: bool
    score: float
    reason: str


class Mask(_Part):
    score: float
    masked: bool


class Decision(_Part):
    outcome: Literal["granted", "denied"]
    reasons: list[str]


class AttendanceMark(_Part):
    direction: Literal["in", "out"]


class Match(_Part):
    distance: float
    margin: float


class Signature(_Part):
    alg: Literal["Ed25519"]
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    canon: Optional[Literal["jcs"]] = Field(None, description="RFC 8785 canonical JSON; absent = the legacy form "
                                                              "(docs/contracts.md section 1)")
    value: Annotated[str, Field(min_length=88, max_length=88, json_schema_extra={"contentEncoding": "base64"})]


class Event(_Part):
    """Kiosk event (topic <prefix>/<device>/events/<type>, QoS 1, not retained)."""
    type: EventType
    event_id: Annotated[str, Field(pattern=HEX32)]
    seq: Optional[Annotated[int, Field(ge=1)]] = Field(None, description=(
        "per-device sequence number, assigned when the event is stored, never reused: a missing number is a gap "
        "(pull it with the events_since command). Absent in events signed before it existed."))
    clock_synchronised: Optional[Literal[False]] = Field(None, description=(
        "present (false) only when the device clock was not synchronised by NTP when the event was recorded: its "
        "device_time may be wrong"))
    walkup_id: Optional[Annotated[str, Field(pattern=HEX32)]] = Field(None, description=(
        "the same for every event of one walk-up (access event, alerts, attendance); null for door, gate and alarm "
        "events"))
    verify_mode: Optional[Annotated[str, Field(pattern=r"^(face|liveness|temperature|mask)"
                                                       r"(\+(liveness|temperature|mask))*$")]] = Field(None, description=(
        "what the verdict was verified by, e.g. face, face+liveness+temperature; a grant passed every factor named"))
    candidate: Optional[Candidate] = None
    device_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    device_time: Annotated[str, Field(pattern=ISO_TIME, json_schema_extra={"format": "date-time"})]
    person: Optional[Person] = None
    temperature: Optional[Temperature] = None
    liveness: Optional[Liveness] = None
    mask: Optional[Mask] = None
    decision: Optional[Decision] = None
    attendance: Optional[AttendanceMark] = None
    match: Optional[Match] = None
    detail: Optional[dict[str, Any]] = None
    signature: Optional[Signature] = Field(None, description=(
        "Ed25519 by the device key over the RFC 8785 canonical JSON of the event without 'signature' (required "
        "on every published event)"))


EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
# May be absent, but never null (Optional above only so that absence validates).
NEVER_NULL = ("seq", "clock_synchronised", "signature")


def event_problem(event: Any, *, signed: bool) -> Optional[str]:
    """None when `event` keeps the contract, else one line naming the first field that breaks it."""
    if not isinstance(event, dict):
        return f"an event is an object, not {type(event).__name__}"
    try:
        Event.model_validate(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        return f"event field {where!r}: {first['msg']} (got {_short(first.get('input'))})"
    for key in NEVER_NULL:
        if key in event and event[key] is None:
            return f"event field {key!r}: may be left out, but not null"
    if signed and event.get("signature") is None:
        return f"event {event['event_id']} is not signed (the store signs events before they are published)"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of a signed event."""
    schema = _tidy(Event.model_json_schema())
    properties = schema["properties"]
    for key in NEVER_NULL:
        described = properties[key].get("description")
        properties[key] = {**properties[key]["anyOf"][0], **({"description": described} if described else {})}
    schema["required"] = [*schema["required"], "signature"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://kiosk.example/schemas/event.schema.json",
            **schema,
            "title": "Kiosk event (topic <prefix>/<device>/events/<type>, QoS 1, not retained)",
            "description": "docs/contracts.md section 1. Signed by the device (Ed25519 over the RFC 8785 canonical "
                           "JSON of the event without 'signature'; legacy form when the signature has no canon). "
                           "Delivered at least once: de-duplicate by event_id. Generated from kiosk/event_model.py."}


def _tidy(node: Any) -> Any:
    """pydantic's schema without its generated titles and null defaults (noise for readers of the contract)."""
    if isinstance(node, dict):
        return {k: _tidy(v) for k, v in node.items()
                if not (k == "title" and isinstance(v, str)) and not (k == "default" and v is None)}
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
