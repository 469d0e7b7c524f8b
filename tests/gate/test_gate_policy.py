"""Table-driven tests of kiosk.access.policy.decide: every rule, their combinations and the edges."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

import pytest
from gate_helpers import AT, LIVE, PHOTO, STAFF, STAFF_2, VISITOR, config, match, reading

from kiosk.access.policy import Notice, Observation, Outcome, Window, decide
from kiosk.recognition.observations import PersonInfo

SATURDAY = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
OK_TEMPS = (reading(36.6),)
FEVER2 = (reading(38.0), reading(38.1))


def obs(**kw: Any) -> Observation:
    values: dict[str, Any] = {"at": AT, "match": match(STAFF), "person": STAFF, "liveness": LIVE,
                              "temperatures": OK_TEMPS}
    if "who" in kw:   # a person (or None = unknown face) for both match and record
        who = kw.pop("who")
        values["match"], values["person"] = match(who), who
    values.update(kw)
    return Observation(**values)


def person(base: PersonInfo = VISITOR, **changes: Any) -> PersonInfo:
    return dataclasses.replace(base, **changes)


G, D, R = Outcome.granted, Outcome.denied, Outcome.retry

# (id, config overrides, observation, outcome, reasons, notice, alerts)
CASES: list[tuple[str, Optional[dict], Observation, Outcome, tuple[str, ...], Notice, tuple[str, ...]]] = [
    # identity and thresholds
    ("staff granted", None, obs(), G, ("recognised",), Notice.welcome, ()),
    ("unknown face", None, obs(who=None), D, ("unknown_face",), Notice.denied, ("unknown_face",)),
    ("distance exactly at threshold", None, obs(match=match(STAFF, distance=0.5, threshold=0.5)),
     G, ("recognised",), Notice.welcome, ()),
    ("distance above threshold", None, obs(match=match(STAFF, distance=0.5001, threshold=0.5)),
     D, ("unknown_face",), Notice.denied, ("unknown_face",)),
    ("margin exactly min_margin", None, obs(match=match(STAFF, margin=0.04)), G, ("recognised",), Notice.welcome, ()),
    ("margin below min_margin", None, obs(match=match(STAFF, margin=0.0399)),
     D, ("ambiguous_match",), Notice.denied, ()),
    ("min_margin raised", {"recognition": {"min_margin": 0.25}}, obs(), D, ("ambiguous_match",), Notice.denied, ()),
    ("matched id without a record", None, obs(person=None), D, ("unknown_face",), Notice.denied, ("unknown_face",)),
    ("suspended", None, obs(who=person(STAFF, status="suspended")), D, ("suspended",), Notice.denied, ()),
    # liveness
    ("photo of staff", None, obs(liveness=PHOTO), D, ("not_live",), Notice.denied, ("spoof_attempt",)),
    ("photo of unknown", None, obs(who=None, liveness=PHOTO), D, ("not_live", "unknown_face"), Notice.denied,
     ("spoof_attempt",)),
    ("photo is not screened", None, obs(liveness=PHOTO, temperatures=(reading(22.0, quality=0.1),)),
     D, ("not_live",), Notice.denied, ("spoof_attempt",)),
    ("liveness pending", None, obs(liveness=None), R, ("liveness_pending",), Notice.stand_still, ()),
    ("liveness pending, final", None, obs(liveness=None, final=True), D, ("liveness_unavailable",),
     Notice.see_staff, ()),
    ("liveness disabled", {"liveness": {"enabled": False}}, obs(liveness=None), G, ("recognised",),
     Notice.welcome, ()),
    ("no thermal sensor", {"thermal": {"backend": "none"}}, obs(liveness=None, temperatures=()),
     G, ("recognised", "temperature_not_measured"), Notice.welcome, ()),
    # temperature
    ("fever exactly at threshold, confirmed", None, obs(temperatures=(reading(37.3), reading(37.3))),
     D, ("fever",), Notice.fever, ("fever_alert",)),
    ("just below threshold", None, obs(temperatures=(reading(37.29),)), G, ("recognised",), Notice.welcome, ()),
    ("one fever reading: measure again", None, obs(temperatures=(reading(38.0),)), R, ("fever_unconfirmed",),
     Notice.stand_still, ()),
    ("fever then normal", None, obs(temperatures=(reading(38.0), reading(36.8))), G, ("recognised",),
     Notice.welcome, ()),
    ("normal then fever", None, obs(temperatures=(reading(36.8), reading(38.0))), R, ("fever_unconfirmed",),
     Notice.stand_still, ()),
    ("fever with a low-quality reading between", None,
     obs(temperatures=(reading(38.0), reading(35.0, quality=0.2), reading(38.2))), D, ("fever",), Notice.fever,
     ("fever_alert",)),
    ("confirm_readings = 1", {"temperature": {"confirm_readings": 1}}, obs(temperatures=(reading(38.0),)),
     D, ("fever",), Notice.fever, ("fever_alert",)),
    ("confirm_readings = 3", {"temperature": {"confirm_readings": 3}}, obs(temperatures=FEVER2),
     R, ("fever_unconfirmed",), Notice.stand_still, ()),
    ("threshold raised", {"temperature": {"fever_threshold_c": 38.5}}, obs(temperatures=FEVER2),
     G, ("recognised",), Notice.welcome, ()),
    ("soft mode fever", {"temperature": {"mode": "soft"}}, obs(temperatures=FEVER2), G, ("recognised", "fever"),
     Notice.welcome, ("fever_alert",)),
    ("mode off fever", {"temperature": {"mode": "off"}}, obs(temperatures=FEVER2), G, ("recognised",),
     Notice.welcome, ()),
    ("mode off unreadable", {"temperature": {"mode": "off"}}, obs(temperatures=(reading(None, 0.0),)),
     G, ("recognised",), Notice.welcome, ()),
    ("low quality: come closer", None, obs(temperatures=(reading(35.1, 0.3, "come closer"),)),
     R, ("temperature_low_quality",), Notice.come_closer, ()),
    ("low quality: stand still", None, obs(temperatures=(reading(35.1, 0.3, "stand still"),)),
     R, ("temperature_low_quality",), Notice.stand_still, ()),
    ("no reading yet", None, obs(temperatures=()), R, ("temperature_low_quality",), Notice.stand_still, ()),
    ("quality exactly min_quality", None, obs(temperatures=(reading(36.7, 0.5),)), G, ("recognised",),
     Notice.welcome, ()),
    ("low-quality fever reading is no verdict", None, obs(temperatures=(reading(39.0, 0.49),)),
     R, ("temperature_low_quality",), Notice.stand_still, ()),
    ("low quality, final, hard", None, obs(temperatures=(reading(35.1, 0.3),), final=True),
     D, ("temperature_unreadable",), Notice.see_staff, ()),
    ("low quality, final, soft", {"temperature": {"mode": "soft"}}, obs(temperatures=(reading(35.1, 0.3),),
                                                                         final=True),
     G, ("recognised", "temperature_unreadable"), Notice.welcome, ()),
    ("fever unconfirmed, final", None, obs(temperatures=(reading(38.0),), final=True), D, ("fever_unconfirmed",),
     Notice.see_staff, ()),
    # screening order
    ("unknown with fever, screened before identification", None, obs(who=None, temperatures=FEVER2),
     D, ("unknown_face", "fever"), Notice.fever, ("unknown_face", "fever_alert")),
    ("unknown with fever, screened after identification", {"temperature": {"order": "after_identification"}},
     obs(who=None, temperatures=FEVER2), D, ("unknown_face",), Notice.denied, ("unknown_face",)),
    ("unknown, low quality, before: wait for the reading", None,
     obs(who=None, temperatures=(reading(34.0, 0.2, "come closer"),)), R, ("temperature_low_quality",),
     Notice.come_closer, ()),
    ("unknown, low quality, after: deny at once", {"temperature": {"order": "after_identification"}},
     obs(who=None, temperatures=(reading(34.0, 0.2),)), D, ("unknown_face",), Notice.denied, ("unknown_face",)),
    ("staff screened after identification", {"temperature": {"order": "after_identification"}},
     obs(temperatures=FEVER2), D, ("fever",), Notice.fever, ("fever_alert",)),
    # masks
    ("require: no mask", {"mask": {"policy": "require"}}, obs(mask_score=0.1), R, ("no_mask",), Notice.wear_mask, ()),
    ("require: no mask, final", {"mask": {"policy": "require"}}, obs(mask_score=0.1, final=True), D, ("no_mask",),
     Notice.see_staff, ()),
    ("require: masked", {"mask": {"policy": "require"}}, obs(mask_score=0.9), G, ("recognised",), Notice.welcome, ()),
    ("require: score exactly at threshold", {"mask": {"policy": "require"}}, obs(mask_score=0.5), G, ("recognised",),
     Notice.welcome, ()),
    ("require: not checked", {"mask": {"policy": "require"}}, obs(mask_score=None), R, ("mask_not_checked",),
     Notice.wear_mask, ()),
    ("require: unknown face is not asked", {"mask": {"policy": "require"}}, obs(who=None, mask_score=0.1),
     D, ("unknown_face",), Notice.denied, ("unknown_face",)),
    ("warn: no mask", {"mask": {"policy": "warn"}}, obs(mask_score=0.1), G, ("recognised", "no_mask"),
     Notice.welcome, ()),
    ("warn: masked", {"mask": {"policy": "warn"}}, obs(mask_score=0.8), G, ("recognised",), Notice.welcome, ()),
    ("forbid: masked", {"mask": {"policy": "forbid"}}, obs(mask_score=0.9), R, ("mask_on",), Notice.remove_mask, ()),
    ("forbid: masked, final", {"mask": {"policy": "forbid"}}, obs(mask_score=0.9, final=True), D, ("mask_on",),
     Notice.see_staff, ()),
    ("forbid: masked unknown is asked to remove it", {"mask": {"policy": "forbid"}}, obs(who=None, mask_score=0.9),
     R, ("mask_on",), Notice.remove_mask, ()),
    ("forbid: bare face", {"mask": {"policy": "forbid"}}, obs(mask_score=0.1), G, ("recognised",), Notice.welcome, ()),
    ("ignore: masked", {"mask": {"policy": "ignore"}}, obs(mask_score=0.9), G, ("recognised",), Notice.welcome, ()),
    ("ignore: not masked", {"mask": {"policy": "ignore"}}, obs(mask_score=0.0), G, ("recognised",), Notice.welcome,
     ()),
    # visitors, validity and schedules
    ("visitor inside window and schedule", None, obs(who=VISITOR), G, ("recognised",), Notice.welcome, ()),
    ("expired visitor", None, obs(who=person(valid_to=AT - timedelta(days=1))), D, ("expired",), Notice.denied, ()),
    ("visitor valid_to exactly now (exclusive)", None, obs(who=person(valid_to=AT)), D, ("expired",), Notice.denied,
     ()),
    ("visitor valid_to a microsecond ahead", None, obs(who=person(valid_to=AT + timedelta(microseconds=1))),
     G, ("recognised",), Notice.welcome, ()),
    ("visitor not yet valid", None, obs(who=person(valid_from=AT + timedelta(hours=1))), D, ("not_yet_valid",),
     Notice.denied, ()),
    ("visitor valid_from exactly now", None, obs(who=person(valid_from=AT)), G, ("recognised",), Notice.welcome, ()),
    ("visitor without a window", None, obs(who=person(valid_from=None, valid_to=None)),
     D, ("visitor_without_window",), Notice.denied, ()),
    ("visitor on a Saturday", None, obs(who=VISITOR, at=SATURDAY), D, ("outside_schedule",), Notice.denied, ()),
    ("visitor at 08:00 (start, inclusive)", None, obs(who=VISITOR, at=AT.replace(hour=8)), G, ("recognised",),
     Notice.welcome, ()),
    ("visitor at 18:00 (end, exclusive)", None, obs(who=VISITOR, at=AT.replace(hour=18)), D, ("outside_schedule",),
     Notice.denied, ()),
    ("expired visitor outside schedule with fever: every reason", None,
     obs(who=person(valid_to=SATURDAY - timedelta(days=2)), at=SATURDAY, temperatures=FEVER2),
     D, ("expired", "outside_schedule", "fever"), Notice.fever, ("fever_alert",)),
    ("role without a schedule", None, obs(who=person(STAFF, role="contractor")), D, ("no_schedule_for_role",),
     Notice.denied, ()),
    ("staff limited to the visitor schedule", None, obs(who=person(STAFF, schedule="visitor"), at=SATURDAY),
     D, ("outside_schedule",), Notice.denied, ()),
    ("personal schedule inside", None, obs(who=person(STAFF, schedule="sat 09:00-12:00"), at=SATURDAY),
     G, ("recognised",), Notice.welcome, ()),
    ("personal schedule, two windows", None,
     obs(who=person(STAFF, schedule="mon 09:00-10:00; sun 09:00-11:00"), at=SUNDAY), G, ("recognised",),
     Notice.welcome, ()),
    ("personal schedule malformed", None, obs(who=person(STAFF, schedule="weekdays 9-5")), D, ("invalid_schedule",),
     Notice.denied, ()),
    ("custom role schedule", {"access": {"schedules": {"staff": ["sat-sun 00:00-24:00"]}}}, obs(),
     D, ("outside_schedule",), Notice.denied, ()),
    ("schedule in the device timezone", {"device": {"timezone": "Europe/Berlin"}},
     obs(who=VISITOR, at=AT.replace(hour=7, minute=30)), G, ("recognised",), Notice.welcome, ()),
    ("same instant in UTC is before opening", None, obs(who=VISITOR, at=AT.replace(hour=7, minute=30)),
     D, ("outside_schedule",), Notice.denied, ()),
    # combinations
    ("ambiguous with fever", None, obs(match=match(STAFF, margin=0.01), temperatures=FEVER2),
     D, ("ambiguous_match", "fever"), Notice.fever, ("fever_alert",)),
    ("suspended, no mask (require): deny at once", {"mask": {"policy": "require"}},
     obs(who=person(STAFF, status="suspended"), mask_score=0.0), D, ("suspended",), Notice.denied, ()),
    ("warn mask and soft fever", {"mask": {"policy": "warn"}, "temperature": {"mode": "soft"}},
     obs(mask_score=0.0, temperatures=FEVER2), G, ("recognised", "fever", "no_mask"), Notice.welcome,
     ("fever_alert",)),
    ("mask retry and temperature retry: temperature first", {"mask": {"policy": "require"}},
     obs(mask_score=0.0, temperatures=(reading(34.0, 0.1, "come closer"),)), R,
     ("temperature_low_quality", "no_mask"), Notice.come_closer, ()),
    ("everything open, final", {"mask": {"policy": "require"}},
     obs(mask_score=0.0, liveness=None, temperatures=(reading(34.0, 0.1),), final=True), D,
     ("liveness_unavailable", "temperature_unreadable", "no_mask"), Notice.see_staff, ()),
    ("no embedding yet: come closer", None, obs(match=None, person=None, face_hint="move closer"),
     R, ("face_not_ready",), Notice.come_closer, ()),
    ("no embedding yet: look at the camera", None, obs(match=None, person=None, face_hint="look at the camera"),
     R, ("face_not_ready",), Notice.look_at_camera, ()),
    ("no embedding, final", None, obs(match=None, person=None, final=True), D, ("face_quality",), Notice.see_staff,
     ()),
    ("final with nothing open is a normal grant", None, obs(final=True), G, ("recognised",), Notice.welcome, ()),
]


@pytest.mark.parametrize(("overrides", "observation", "outcome", "reasons", "notice", "alerts"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_policy_table(overrides, observation, outcome, reasons, notice, alerts) -> None:
    decision = decide(observation, config(overrides))
    assert (decision.outcome, decision.reasons, decision.notice, decision.alerts) == (outcome, reasons, notice, alerts)
    if outcome == Outcome.denied:
        assert decision.reasons, "every denial has a reason"
        assert decision.as_event() == {"outcome": "denied", "reasons": list(reasons)}


def test_case_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


def test_welcome_message_names_the_person_and_temperature() -> None:
    decision = decide(obs(temperatures=(reading(36.64),)), config())
    assert decision.message == "Welcome, Ada - 36.6 °C"
    assert decision.fever is False and decision.temperature.body_c == 36.64


def test_warn_mask_message_asks_for_a_mask() -> None:
    decision = decide(obs(mask_score=0.0), config({"mask": {"policy": "warn"}}))
    assert decision.granted and decision.message.endswith("please wear your mask")


def test_fever_reported_but_not_acted_on_in_mode_off() -> None:
    decision = decide(obs(temperatures=FEVER2), config({"temperature": {"mode": "off"}}))
    assert decision.granted and decision.fever is True and decision.alerts == ()


def test_unknown_face_right_after_a_known_one_is_decided_on_its_own() -> None:
    cfg = config()
    first = decide(obs(), cfg)
    second = decide(obs(who=None), cfg)
    third = decide(obs(who=STAFF_2), cfg)
    assert first.granted and first.message.startswith("Welcome, Ada")
    assert second.outcome == Outcome.denied and second.reasons == ("unknown_face",)
    assert third.granted and third.message.startswith("Welcome, Alan")


def test_decide_is_pure() -> None:
    cfg, observation = config({"mask": {"policy": "warn"}}), obs(mask_score=0.1, temperatures=FEVER2)
    before = cfg.model_dump()
    assert decide(observation, cfg) == decide(observation, cfg)
    assert cfg.model_dump() == before


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(obs(who=VISITOR, at=datetime(2026, 3, 4, 10, 0)), config())


def test_person_from_fleet_record() -> None:
    info = PersonInfo.from_record("p9", {"employee_no": "V7", "name": "Vis Itor", "role": "visitor",
                                         "valid_from": "2026-03-04", "valid_to": "2026-03-04", "schedule": "staff",
                                         "status": "active"})
    cfg = config()
    inside = decide(obs(who=info, at=datetime(2026, 3, 4, 17, 59, tzinfo=UTC)), cfg)
    before = decide(obs(who=info, at=datetime(2026, 3, 3, 17, 0, tzinfo=UTC)), cfg)
    after = decide(obs(who=info, at=datetime(2026, 3, 5, 0, 0, tzinfo=UTC)), cfg)
    assert inside.granted, "a date alone is valid for the whole day"
    assert before.reasons == ("not_yet_valid",) and after.reasons == ("expired",)
    stored = PersonInfo.from_record("p9", {"role": "visitor", "valid_from": "2026-03-01T00:00:00Z",
                                           "valid_to": "2026-03-04T10:00:00+00:00"})
    assert decide(obs(who=stored, at=AT - timedelta(seconds=1)), cfg).granted
    assert decide(obs(who=stored, at=AT), cfg).reasons == ("expired",)
    assert info.as_event() == {"person_id": "p9", "employee_no": "V7", "name": "Vis Itor", "role": "visitor"}


@pytest.mark.parametrize(("window", "when", "inside"), [
    ("mon-sun 22:00-06:00", datetime(2026, 3, 4, 23, 0), True),
    ("mon-sun 22:00-06:00", datetime(2026, 3, 4, 5, 59), True),
    ("mon-sun 22:00-06:00", datetime(2026, 3, 4, 6, 0), False),
    ("fri 22:00-06:00", datetime(2026, 3, 7, 1, 0), True),      # Saturday early morning belongs to Friday's window
    ("sat 22:00-06:00", datetime(2026, 3, 7, 1, 0), False),
    ("fri-mon 08:00-18:00", datetime(2026, 3, 8, 9, 0), True),  # wrapping day range, Sunday
    ("fri-mon 08:00-18:00", datetime(2026, 3, 4, 9, 0), False),
    ("wed 00:00-24:00", datetime(2026, 3, 4, 23, 59), True),
    ("wed 00:00-24:00", datetime(2026, 3, 5, 0, 0), False),
])
def test_windows(window: str, when: datetime, inside: bool) -> None:
    assert Window.parse(window).contains(when) is inside


@pytest.mark.parametrize("bad", ["weekdays 08:00-18:00", "mon 8:00-18:00", "mon 25:00-26:00", "mon 08:61-09:00", ""])
def test_bad_windows(bad: str) -> None:
    with pytest.raises(ValueError):
        Window.parse(bad)
