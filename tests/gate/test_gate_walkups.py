"""End to end on simulated walk-ups: tracker -> policy -> gate (mock relay) -> events -> feedback,
glued the way the daemon does it (see README "Gate, policy and attendance")."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from gate_helpers import AT, LIVE, PHOTO, STAFF, STAFF_2, Transitions, config, face, match, reading

from drivers.relay.mock import MockRelay
from kiosk.access.attendance import Attendance
from kiosk.access.feedback import Feedback
from kiosk.access.gate import GateController
from kiosk.access.tracker import Tracker
from kiosk.recognition.observations import FaceSample

FPS = 15
STAFF_3 = dataclasses.replace(STAFF, person_id="p-kat", employee_no="E003", name="Katherine Johnson")


def test_walkups_end_to_end() -> None:
    cfg = config({"recognition": {"cooldown_s": 30}, "display": {"hold_s": 0}})
    relay = MockRelay()
    events: list[dict] = []
    shown: list[str] = []
    scenes = [
        ("staff stands 60 s", 60, FaceSample(face(), match(STAFF), STAFF, reading(36.6), LIVE)),
        ("nobody", 3, None),
        ("second staff right after", 5, FaceSample(face(), match(STAFF_2), STAFF_2, reading(36.8), LIVE)),
        ("photo of staff right after", 5, FaceSample(face(), match(STAFF), STAFF, reading(23.0, 0.2), PHOTO)),
        ("unknown visitor", 5, FaceSample(face(), match(None), None, reading(36.5), LIVE)),
        ("fever", 5, FaceSample(face(x=20), match(STAFF_3), STAFF_3, reading(38.4), LIVE)),
        ("second staff back within the cooldown", 5, FaceSample(face(), match(STAFF_2), STAFF_2, reading(36.8), LIVE)),
    ]

    async def daemon() -> None:
        tracker, attendance, feedback = Tracker(cfg), Attendance(cfg), Feedback(cfg)
        feedback.start()
        heard = Transitions()
        async with GateController(relay, pulse_s=0.05, on_change=heard) as gate:
            t, grants = 0.0, 0
            for _, seconds, sample in scenes:
                for _ in range(seconds * FPS):
                    step = tracker.update(t, AT + timedelta(seconds=t), [sample] if sample else [])
                    if step.verdict is not None:
                        if step.verdict.decision.granted:
                            gate.grant()
                            grants += 1
                        events.extend(attendance.events_for(step.verdict))
                    feedback.present(step)
                    shown.append(feedback.current.text)
                    t += 1 / FPS
                await heard.until(2 * grants)   # every pulse over (in real time) before the next scene
        feedback.close()

    asyncio.run(daemon())
    kinds = [event["type"] for event in events]
    assert kinds == ["access_granted", "attendance",            # staff, once in 60 s
                     "access_granted", "attendance",            # the second person, separately
                     "access_denied", "spoof_attempt",          # the photo (Ada's 30 s cooldown is over)
                     "access_denied", "unknown_face",
                     "access_denied", "fever_alert"]            # and nothing for Alan within his cooldown
    assert [e["person"]["person_id"] for e in events if e["type"] == "attendance"] == [STAFF.person_id,
                                                                                      STAFF_2.person_id]
    assert events[4]["decision"]["reasons"] == ["not_live"]
    assert events[8]["decision"]["reasons"] == ["fever"]
    pulses = [unlocked for _, unlocked in relay.transitions].count(True)
    assert pulses == 2 and relay.unlocked is False
    assert "Welcome, Ada - 36.6 °C" in shown and "Temperature too high - please see staff" in shown
