"""Properties of the policy over generated observations (hypothesis): whatever the mix of identity,
liveness, temperatures, mask and time, the gate is only opened for a live, known, active, valid person
without fever (or with a fever alert in soft mode), and a decision is pure."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Optional

from gate_helpers import AT, LIVE, PHOTO, STAFF, VISITOR, config, match, reading
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.access.policy import MESSAGES, Observation, Outcome, decide
from kiosk.recognition.observations import PersonInfo
from kiosk.types import LivenessResult

SUSPENDED = replace(STAFF, person_id="p-sus", status="suspended")
EXPIRED = replace(VISITOR, person_id="p-old", valid_to=AT - timedelta(days=1))
PEOPLE = [STAFF, VISITOR, SUSPENDED, EXPIRED, None]
CONFIGS = {
    "plain": config(),
    "masks required": config({"mask": {"policy": "require"}}),
    "fever soft": config({"temperature": {"mode": "soft"}}),
}


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    # Half the examples are near a grant (matched, live, good readings, final), so the grant path is
    # explored with every kind of person, temperature and mask, not only the easy refusals.
    near_grant = draw(st.booleans())
    person: Optional[PersonInfo] = draw(st.sampled_from(PEOPLE))
    has_match = near_grant or draw(st.booleans())
    distance = draw(st.floats(0.0, 0.45 if near_grant else 1.0))
    liveness: Optional[LivenessResult] = LIVE if near_grant else draw(st.sampled_from([LIVE, PHOTO, None]))
    bodies = draw(st.lists(st.one_of(st.none(), st.floats(33.0, 41.0)), min_size=2 * near_grant, max_size=4))
    qualities = draw(st.lists(st.floats(0.6 if near_grant else 0.0, 1.0), min_size=len(bodies), max_size=len(bodies)))
    return Observation(
        at=AT + timedelta(hours=draw(st.integers(-24 * 40, 24 * 40))),
        match=match(person, distance=distance) if has_match else None,
        person=person if has_match else None,
        liveness=liveness,
        temperatures=tuple(reading(b, q) for b, q in zip(bodies, qualities, strict=True)),
        mask_score=draw(st.one_of(st.none(), st.floats(0.0, 1.0))),
        final=near_grant or draw(st.booleans()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obs=observations(), which=st.sampled_from(sorted(CONFIGS)))
def test_only_a_live_known_active_valid_person_without_fever_is_let_in(obs: Observation, which: str) -> None:
    cfg = CONFIGS[which]
    decision = decide(obs, cfg)
    assert decision.outcome in (Outcome.granted, Outcome.denied, Outcome.retry)
    assert decision.message == MESSAGES[decision.notice] or decision.notice.value == "welcome"
    if not decision.granted:
        return
    assert obs.person is not None and obs.match is not None
    assert obs.match.person_id == obs.person.person_id and obs.match.distance <= obs.match.threshold
    person = obs.person
    assert person.status == "active" and person is not SUSPENDED
    # Valid at the walk-up (EXPIRED is still valid when `at` falls before its valid_to).
    assert (person.valid_from is None or obs.at >= person.valid_from) and (person.valid_to is None or obs.at < person.valid_to)
    assert obs.liveness is not PHOTO                        # a photo or a screen is never let in
    if cfg.temperature.mode == "hard":                      # soft: let in, with a fever alert
        assert decision.fever is not True
    else:
        assert decision.fever is not True or "fever_alert" in decision.alerts
    if cfg.mask.policy == "require":
        assert decision.masked is True


@settings(max_examples=200, deadline=None)
@given(obs=observations())
def test_a_decision_does_not_depend_on_anything_but_the_observation_and_config(obs: Observation) -> None:
    cfg = CONFIGS["plain"]
    assert decide(obs, cfg) == decide(obs, cfg)          # pure: the same input, the same verdict
