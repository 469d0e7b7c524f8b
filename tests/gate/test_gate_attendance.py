"""kiosk.access.attendance: event dicts per docs/contracts.md section 1, clock in/out, cooldown, ledger."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Optional

import pytest
from gate_helpers import AT, LIVE, PHOTO, STAFF, STAFF_2, VISITOR, config, match, reading

from kiosk.access.attendance import Attendance, make_event
from kiosk.access.policy import Observation, decide
from kiosk.access.tracker import Verdict
from kiosk.config import KioskConfig
from kiosk.mqtt.schemas import first_error
from kiosk.recognition.observations import PersonInfo
from kiosk.types import MatchResult

SIGNATURE = {"alg": "Ed25519", "key_id": "0123456789abcdef", "canon": "jcs", "value": "A" * 88}
EVENT_KEYS = {"type", "event_id", "device_id", "device_time", "person", "temperature", "liveness", "mask", "decision",
              "attendance", "match", "detail", "walkup_id", "candidate", "verify_mode"}


def verdict(cfg: KioskConfig, who: Optional[PersonInfo] = STAFF, at: datetime = AT, **kw: Any) -> Verdict:
    values: dict[str, Any] = {"at": at, "match": match(who), "person": who, "liveness": LIVE,
                              "temperatures": (reading(36.6),)}
    values.update(kw)
    obs = Observation(**values)
    decision = decide(obs, cfg)
    assert decision.final
    return Verdict(7, decision, obs)


def kinds(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


def test_granted_staff_gives_access_and_attendance_events_per_contract() -> None:
    cfg = config({"device": {"id": "door-3", "role": "entry", "timezone": "UTC"}})
    events = Attendance(cfg).events_for(verdict(cfg, mask_score=0.2))
    assert kinds(events) == ["access_granted", "attendance"]
    for event in events:
        assert set(event) == EVENT_KEYS
        assert re.fullmatch(r"[0-9a-f]{32}", event["event_id"])
        assert event["device_id"] == "door-3"
        assert event["device_time"] == "2026-03-04T10:00:00.000+00:00"
        json.dumps(event, allow_nan=False)
    access, clock = events
    assert access["person"] == {"person_id": "p-ada", "employee_no": "E001", "name": "Ada Lovelace", "role": "staff"}
    # The HR feed: who and which way, no name and no body temperature unless mqtt.attendance_fields asks.
    assert clock["person"] == {"person_id": "p-ada", "employee_no": "E001"}
    assert clock["temperature"] is clock["mask"] is clock["match"] is clock["decision"] is None
    assert access["decision"] == {"outcome": "granted", "reasons": ["recognised"]}  # mask.policy = ignore
    assert access["temperature"] == {"body_c": 36.6, "skin_c": 34.1, "quality": 0.9, "fever": False}
    assert access["liveness"] == {"live": True, "score": 0.92, "reason": "warm skin"}
    assert access["mask"] == {"score": 0.2, "masked": False}
    assert access["match"] == {"distance": 0.3, "margin": 0.2}
    assert access["attendance"] is None
    assert clock["attendance"] == {"direction": "in"}
    assert len({event["event_id"] for event in events}) == 2


def test_attendance_fields_put_chosen_parts_back_into_the_hr_feed() -> None:
    cfg = config({"device": {"role": "entry"}, "mqtt": {"attendance_fields": ["name", "temperature", "decision"]}})
    clock = Attendance(cfg).events_for(verdict(cfg))[-1]
    assert clock["type"] == "attendance"
    assert clock["person"] == {"person_id": "p-ada", "employee_no": "E001", "name": "Ada Lovelace"}
    assert clock["temperature"]["body_c"] == 36.6 and clock["decision"]["outcome"] == "granted"
    assert clock["mask"] is None and clock["match"] is None
    assert first_error("event", {**clock, "signature": SIGNATURE}) is None


def test_no_face_data_in_events() -> None:
    cfg = config()
    text = json.dumps(Attendance(cfg).events_for(verdict(cfg)))
    assert "embedding" not in text and "image" not in text and "keypoints" not in text


def test_unknown_face_is_denied_with_its_reason_and_alert() -> None:
    cfg = config()
    events = Attendance(cfg).events_for(verdict(cfg, who=None))
    assert kinds(events) == ["access_denied", "unknown_face"]
    assert all(event["decision"] == {"outcome": "denied", "reasons": ["unknown_face"]} for event in events)
    assert events[0]["person"] is None


def test_fever_and_spoof_alerts() -> None:
    cfg = config()
    fever = Attendance(cfg).events_for(verdict(cfg, temperatures=(reading(38.0), reading(38.2))))
    assert kinds(fever) == ["access_denied", "fever_alert"]
    assert fever[1]["temperature"]["fever"] is True and fever[1]["temperature"]["body_c"] == 38.2
    spoof = Attendance(cfg).events_for(verdict(cfg, liveness=PHOTO))
    assert kinds(spoof) == ["access_denied", "spoof_attempt"]
    assert spoof[1]["liveness"] == {"live": False, "score": 0.05, "reason": "no heat where the face is"}


def test_events_of_one_walkup_share_its_id_and_verify_mode() -> None:
    cfg = config({"device": {"role": "entry"}})
    walkup = verdict(cfg)
    events = Attendance(cfg).events_for(walkup)
    assert kinds(events) == ["access_granted", "attendance"]
    assert {e["walkup_id"] for e in events} == {walkup.walkup_id}
    assert re.fullmatch(r"[0-9a-f]{32}", walkup.walkup_id)
    assert {e["verify_mode"] for e in events} == {"face+liveness+temperature"}
    assert all(first_error("event", {**e, "signature": SIGNATURE}) is None for e in events)
    assert verdict(cfg).walkup_id != walkup.walkup_id


def test_verify_mode_names_what_the_grant_relied_on() -> None:
    mode = lambda cfg, **kw: Attendance(cfg).events_for(verdict(cfg, **kw))[0]["verify_mode"]  # noqa: E731
    assert mode(config({"temperature": {"mode": "off"}})) == "face+liveness"       # measured, not screened
    assert mode(config({"liveness": {"enabled": False}})) == "face+temperature"
    assert mode(config({"mask": {"policy": "require"}}), mask_score=0.9) == "face+liveness+temperature+mask"
    assert mode(config({"mask": {"policy": "warn"}}), mask_score=0.9) == "face+liveness+temperature"
    assert mode(config(), liveness=PHOTO) == "face+liveness"                        # denied at liveness


@pytest.mark.parametrize("case", ["photo", "unknown", "ambiguous", "no liveness"])
def test_an_unproven_face_names_its_best_match_as_candidate_not_person(case: str) -> None:
    cfg = config()
    kw: dict[str, Any] = {"photo": {"liveness": PHOTO},
                          "unknown": {"match": match(STAFF, distance=0.9)},
                          "ambiguous": {"match": match(STAFF, margin=0.0)},
                          "no liveness": {"liveness": None, "final": True}}[case]
    events = Attendance(cfg).events_for(verdict(cfg, **kw))
    assert events[0]["type"] == "access_denied"
    for event in events:
        assert event["person"] is None
        assert event["candidate"] == {"person_id": "p-ada", "employee_no": "E001"}   # no name
        assert first_error("event", {**event, "signature": SIGNATURE}) is None


def test_a_person_denied_for_a_policy_reason_is_named() -> None:
    cfg = config()
    events = Attendance(cfg).events_for(verdict(cfg, temperatures=(reading(38.0), reading(38.2))))
    assert events[0]["decision"]["reasons"] == ["fever"]
    assert all(e["person"]["employee_no"] == "E001" and e["candidate"] is None for e in events)


def test_soft_fever_grant_still_clocks_in_and_alerts() -> None:
    cfg = config({"temperature": {"mode": "soft"}})
    events = Attendance(cfg).events_for(verdict(cfg, temperatures=(reading(38.0), reading(38.2))))
    assert kinds(events) == ["access_granted", "fever_alert", "attendance"]


def test_non_finite_match_figures_become_null() -> None:
    cfg = config()
    gallery_empty = verdict(cfg, who=None, match=MatchResult(None, float("inf"), float("inf"), 0.5))
    one_person = verdict(cfg, match=MatchResult(STAFF.person_id, 0.2, float("inf"), 0.5))
    assert Attendance(cfg).events_for(gallery_empty)[0]["match"] is None
    assert Attendance(cfg).events_for(one_person)[0]["match"] == {"distance": 0.2, "margin": None}


def test_one_attendance_event_per_person_per_cooldown() -> None:
    cfg = config({"attendance": {"cooldown_s": 300}})
    attendance = Attendance(cfg)
    times = [AT, AT + timedelta(seconds=60), AT + timedelta(seconds=299), AT + timedelta(seconds=301)]
    directions = [[e["attendance"]["direction"] for e in attendance.events_for(verdict(cfg, at=t))
                   if e["type"] == "attendance"] for t in times]
    assert directions == [["in"], [], [], ["out"]]
    other = attendance.events_for(verdict(cfg, who=STAFF_2, at=AT + timedelta(seconds=61)))
    assert kinds(other) == ["access_granted", "attendance"], "the cooldown is per person"


@pytest.mark.parametrize(("mode", "role", "expected"), [
    ("device_role", "entry", ["in", "in", "in"]),
    ("device_role", "exit", ["out", "out", "out"]),
    ("device_role", "both", ["in", "out", "in"]),
    ("first_last", "entry", ["in", "out", "in"]),
])
def test_directions(mode: str, role: str, expected: list[str]) -> None:
    cfg = config({"attendance": {"mode": mode, "cooldown_s": 60, "day_starts_at": "04:00"},
                  "device": {"role": role, "timezone": "UTC"}})
    attendance = Attendance(cfg)
    morning, evening, next_day = AT.replace(hour=8), AT.replace(hour=17), AT.replace(hour=8) + timedelta(days=1)
    got = [attendance.clock(v.decision, v.observation, v.observation.at)
           for v in (verdict(cfg, at=t) for t in (morning, evening, next_day))]
    assert got == expected


def test_day_starts_at_in_the_device_timezone() -> None:
    cfg = config({"attendance": {"mode": "first_last", "cooldown_s": 0, "day_starts_at": "04:00"},
                  "device": {"timezone": "Europe/Berlin"}})
    attendance = Attendance(cfg)
    # 02:30 UTC = 03:30 Berlin: still the previous attendance day (a night shift ending).
    assert attendance.attendance_day(datetime(2026, 3, 5, 2, 30, tzinfo=UTC)).isoformat() == "2026-03-04"
    assert attendance.attendance_day(datetime(2026, 3, 5, 3, 0, tzinfo=UTC)).isoformat() == "2026-03-05"
    night = [attendance.clock(v.decision, v.observation, v.observation.at) for v in (
        verdict(cfg, at=datetime(2026, 3, 4, 21, 0, tzinfo=UTC)), verdict(cfg, at=datetime(2026, 3, 5, 2, 30, tzinfo=UTC)),
        verdict(cfg, at=datetime(2026, 3, 5, 3, 0, tzinfo=UTC)))]
    assert night == ["in", "out", "in"]
    assert make_event("alarm", cfg, datetime(2026, 3, 5, 3, 0, tzinfo=UTC))["device_time"] == \
        "2026-03-05T04:00:00.000+01:00"


def test_visitors_and_denials_do_not_clock() -> None:
    cfg = config()
    attendance = Attendance(cfg)
    assert kinds(attendance.events_for(verdict(cfg, who=VISITOR))) == ["access_granted"]
    assert kinds(attendance.events_for(verdict(cfg, temperatures=(reading(38.0), reading(38.0))))) == \
        ["access_denied", "fever_alert"]
    cfg = config({"attendance": {"roles": ["staff", "visitor"]}})
    assert kinds(Attendance(cfg).events_for(verdict(cfg, who=VISITOR))) == ["access_granted", "attendance"]


def test_ledger_survives_a_restart(tmp_path: Path) -> None:
    cfg = config({"attendance": {"mode": "first_last", "cooldown_s": 300}})
    path = tmp_path / "state" / "attendance.json"
    first = Attendance(cfg, path)
    assert first.clock(*_parts(verdict(cfg, at=AT))) == "in"
    first.save()
    again = Attendance(cfg, path)
    assert again.clock(*_parts(verdict(cfg, at=AT + timedelta(seconds=100)))) is None, "cooldown kept"
    assert again.clock(*_parts(verdict(cfg, at=AT + timedelta(hours=8)))) == "out", "first clock-in kept"
    again.forget(STAFF.person_id)
    assert again.clock(*_parts(verdict(cfg, at=AT + timedelta(hours=9)))) == "in"


def test_unreadable_ledger_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "attendance.json"
    path.write_text('{"last": {"p": "yesterday"}}')
    with pytest.raises(ValueError, match=r"attendance\.json: attendance ledger unreadable"):
        Attendance(config(), path)


def test_naive_event_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_event("alarm", config(), datetime(2026, 3, 4, 10, 0))


def _parts(v: Verdict) -> tuple:
    return v.decision, v.observation, v.observation.at
