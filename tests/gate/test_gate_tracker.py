"""kiosk.access.tracker: confirmation over frames, one verdict per person, cooldown, new faces, retries.

Simulated walk-ups: frames at 15 fps with explicit timestamps (no sleeping)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Optional

from gate_helpers import AT, LIVE, PHOTO, STAFF, STAFF_2, config, face, match, reading

from kiosk.access.attendance import Attendance
from kiosk.access.policy import Notice, Outcome
from kiosk.access.tracker import Step, Tracker
from kiosk.recognition.observations import FaceSample, PersonInfo
from kiosk.types import TemperatureReading

FPS = 15.0


def sample(who: Optional[PersonInfo] = STAFF, temp: Optional[TemperatureReading] = None, x: float = 200.0,
           embedded: bool = True, hint: Optional[str] = None, mask: Optional[float] = None) -> FaceSample:
    return FaceSample(face=face(x=x, ok=embedded, reason=hint, mask=mask),
                      match=match(who) if embedded else None, person=who if embedded else None,
                      temperature=temp if temp is not None else reading(36.6), liveness=LIVE)


class Walkups:
    """Plays frames into a tracker at FPS and collects every step."""

    def __init__(self, tracker: Tracker, t0: float = 1000.0) -> None:
        self.tracker = tracker
        self.t = t0
        self.t0 = t0
        self.steps: list[Step] = []

    def play(self, seconds: float, make: Optional[Callable[[], FaceSample]] = None) -> list[Step]:
        steps = []
        for _ in range(round(seconds * FPS)):
            samples = [make()] if make else []
            at = AT + timedelta(seconds=self.t - self.t0)
            steps.append(self.tracker.update(self.t, at, samples))
            self.t += 1 / FPS
        self.steps.extend(steps)
        return steps

    def verdicts(self, steps: Optional[list[Step]] = None) -> list:
        return [step.verdict for step in (steps if steps is not None else self.steps) if step.verdict]


def test_person_standing_60_s_is_decided_once_with_one_attendance_event() -> None:
    cfg = config({"recognition": {"cooldown_s": 30}, "attendance": {"cooldown_s": 10}})
    walk = Walkups(Tracker(cfg))
    attendance = Attendance(cfg)
    walk.play(60, lambda: sample(STAFF))
    verdicts = walk.verdicts()
    assert len(verdicts) == 1
    assert verdicts[0].decision.outcome == Outcome.granted
    events = [event for verdict in verdicts for event in attendance.events_for(verdict)]
    assert [event["type"] for event in events] == ["access_granted", "attendance"]


def test_second_person_right_after_is_decided_separately() -> None:
    walk = Walkups(Tracker(config()))
    first = walk.play(5, lambda: sample(STAFF))
    second = walk.play(5, lambda: sample(STAFF_2))   # same spot, no gap
    assert [v.observation.person.person_id for v in walk.verdicts(first)] == [STAFF.person_id]
    assert [v.observation.person.person_id for v in walk.verdicts(second)] == [STAFF_2.person_id]
    assert walk.verdicts(first)[0].walkup_id != walk.verdicts(second)[0].walkup_id   # two people, two walk-ups


def test_a_walkup_keeps_its_id_through_a_one_frame_flicker() -> None:
    tracker = Tracker(config({"recognition": {"confirm_frames": 3}}))
    tracker.update(0.0, AT, [sample(STAFF)])
    started = tracker._track.walkup_id                   # noqa: SLF001  the id the walk-up started with
    sequence = [STAFF] + [None] + [STAFF] * 3           # a one-frame flicker to "unknown" is not a new person
    steps = [tracker.update((i + 1) / FPS, AT, [sample(who)]) for i, who in enumerate(sequence)]
    decided = [step.verdict for step in steps if step.verdict]
    assert len(decided) == 1 and decided[0].walkup_id == started


def test_unknown_face_right_after_a_known_one_is_denied() -> None:
    walk = Walkups(Tracker(config()))
    walk.play(3, lambda: sample(STAFF))
    steps = walk.play(3, lambda: sample(None))
    verdicts = walk.verdicts(steps)
    assert len(verdicts) == 1
    assert verdicts[0].decision.outcome == Outcome.denied
    assert verdicts[0].decision.reasons == ("unknown_face",)
    assert verdicts[0].observation.person is None


def test_confirmation_needs_confirm_frames_agreeing_frames() -> None:
    tracker = Tracker(config({"recognition": {"confirm_frames": 3}}))
    steps = [tracker.update(i / FPS, AT, [sample(STAFF)]) for i in range(3)]
    assert [step.verdict is not None for step in steps] == [False, False, True]


def test_a_one_frame_flicker_neither_decides_nor_re_decides() -> None:
    tracker = Tracker(config({"recognition": {"confirm_frames": 3, "cooldown_s": 30}}))
    sequence = [STAFF] * 4 + [None] + [STAFF] * 10 + [None, None] + [STAFF] * 5
    verdicts = [tracker.update(i / FPS, AT, [sample(who)]).verdict for i, who in enumerate(sequence)]
    decided = [v for v in verdicts if v]
    assert len(decided) == 1 and decided[0].decision.granted


def test_cooldown_across_tracks() -> None:
    cfg = config({"recognition": {"cooldown_s": 30, "track_timeout_s": 2}})
    walk = Walkups(Tracker(cfg))
    walk.play(3, lambda: sample(STAFF))
    gone = walk.play(3)                                   # nobody: the track ends
    assert any(step.ended_track for step in gone) and gone[-1].track_id is None
    back_soon = walk.play(3, lambda: sample(STAFF))       # back within the cooldown
    walk.play(30)
    back_later = walk.play(3, lambda: sample(STAFF))      # after the cooldown
    assert walk.verdicts(back_soon) == []
    assert len(walk.verdicts(back_later)) == 1


def test_unknown_person_is_decided_again_in_a_new_track() -> None:
    walk = Walkups(Tracker(config()))
    walk.play(2, lambda: sample(None))
    walk.play(3)
    walk.play(2, lambda: sample(None))
    assert len(walk.verdicts()) == 2


def test_face_that_jumps_elsewhere_is_a_new_track() -> None:
    tracker = Tracker(config())
    a = tracker.update(0.0, AT, [sample(STAFF, x=0)])
    b = tracker.update(0.1, AT, [sample(STAFF, x=400)])
    assert a.track_id != b.track_id and b.ended_track == a.track_id


def test_largest_face_is_the_one_decided() -> None:
    tracker = Tracker(config())
    near = sample(STAFF_2, x=100)
    far = FaceSample(face=face(x=500, width=60), match=match(STAFF), person=STAFF, temperature=reading(), liveness=LIVE)
    verdict = [tracker.update(i / FPS, AT, [far, near]).verdict for i in range(3)][-1]
    assert verdict.observation.person == STAFF_2


def test_fever_is_measured_twice_before_denying() -> None:
    tracker = Tracker(config({"temperature": {"confirm_readings": 2}, "recognition": {"confirm_frames": 2}}))
    s1 = tracker.update(0.0, AT, [sample(STAFF, temp=reading(38.2))])
    s2 = tracker.update(0.1, AT, [sample(STAFF, temp=reading(38.3))])
    assert s1.verdict is None and s2.verdict is not None
    assert s2.verdict.decision.reasons == ("fever",) and s2.verdict.decision.alerts == ("fever_alert",)
    tracker = Tracker(config({"temperature": {"confirm_readings": 3}, "recognition": {"confirm_frames": 2}}))
    s1 = tracker.update(0.0, AT, [sample(STAFF, temp=reading(38.2))])
    s2 = tracker.update(0.1, AT, [sample(STAFF, temp=reading(38.3))])
    assert s2.verdict is None and s2.prompt.notice == Notice.stand_still
    s3 = tracker.update(0.2, AT, [sample(STAFF, temp=reading(38.4))])
    assert s3.verdict.decision.reasons == ("fever",)


def test_retries_end_in_see_staff_after_retry_timeout() -> None:
    cfg = config({"recognition": {"retry_timeout_s": 5}})
    walk = Walkups(Tracker(cfg))
    steps = walk.play(8, lambda: sample(STAFF, temp=reading(34.0, quality=0.2, reason="come closer")))
    prompts = [step.prompt.notice for step in steps if step.prompt]
    verdicts = walk.verdicts(steps)
    assert prompts and set(prompts) == {Notice.come_closer}
    assert len(verdicts) == 1
    decided_at = next(i for i, step in enumerate(steps) if step.verdict) / FPS
    assert 5.0 <= decided_at <= 5.0 + 3 / FPS + 1e-9
    assert verdicts[0].decision.reasons == ("temperature_unreadable",)
    assert verdicts[0].decision.notice == Notice.see_staff


def test_retry_resolved_by_a_good_reading() -> None:
    tracker = Tracker(config())
    prompts = [tracker.update(i / FPS, AT, [sample(STAFF, temp=reading(34.0, 0.1, "come closer"))]) for i in range(5)]
    good = tracker.update(5 / FPS, AT, [sample(STAFF, temp=reading(36.5))])
    assert all(step.verdict is None for step in prompts) and prompts[-1].prompt.notice == Notice.come_closer
    assert good.verdict.decision.granted


def test_face_without_embedding_gets_a_hint_and_no_verdict() -> None:
    tracker = Tracker(config())
    steps = [tracker.update(i / FPS, AT, [sample(embedded=False, hint="move closer")]) for i in range(10)]
    assert all(step.verdict is None for step in steps)
    assert all(step.prompt.notice == Notice.come_closer for step in steps)
    assert steps[0].track_id == steps[-1].track_id is not None


def test_mask_request_then_grant_when_the_mask_is_on() -> None:
    tracker = Tracker(config({"mask": {"policy": "require"}}))
    bare = [tracker.update(i / FPS, AT, [sample(STAFF, mask=0.05)]) for i in range(4)]
    masked = [tracker.update((4 + i) / FPS, AT, [sample(STAFF, mask=0.95)]) for i in range(3)]
    assert bare[-1].prompt.notice == Notice.wear_mask and not any(step.verdict for step in bare)
    assert [step.verdict.decision.granted for step in masked if step.verdict] == [True]


def with_liveness(pattern: list[bool]) -> Callable[[], FaceSample]:
    """Samples whose liveness readings follow `pattern` (True = live), then stay live."""
    readings = iter(pattern)

    def make() -> FaceSample:
        item = sample(STAFF)
        item.liveness = LIVE if next(readings, True) else PHOTO
        return item
    return make


def test_one_stale_thermal_frame_does_not_make_a_live_person_a_spoof() -> None:
    walk = Walkups(Tracker(config({})))
    walk.play(3, with_liveness([False, True, False]))   # the decision comes at the 3rd frame
    verdicts = walk.verdicts()
    assert len(verdicts) == 1 and verdicts[0].decision.outcome == Outcome.granted


def test_consistently_cold_face_is_refused_as_not_live() -> None:
    walk = Walkups(Tracker(config({})))
    walk.play(3, with_liveness([False] * 50))
    verdicts = walk.verdicts()
    assert len(verdicts) == 1 and "not_live" in verdicts[0].decision.reasons


def test_a_flickering_identity_does_not_restart_the_retry_timer() -> None:
    """A masked face matches someone in one frame out of ten: the person is still told, then decided."""
    frames = iter(range(10_000))

    def masked_stranger() -> FaceSample:
        n = next(frames)
        return sample(STAFF if n % 10 == 9 else None, mask=0.95)

    walk = Walkups(Tracker(config({"mask": {"policy": "forbid"}, "recognition": {"retry_timeout_s": 2.0}})))
    walk.play(5, masked_stranger)
    verdicts = walk.verdicts()
    assert len(verdicts) == 1
    assert verdicts[0].decision.outcome == Outcome.denied and "mask_on" in verdicts[0].decision.reasons
