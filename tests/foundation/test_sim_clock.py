"""The simulator's clock waits for the kiosk (kiosk/sim/clock.py, pacing.py), driven with fake time (no sleeps):
wall speed while the participants keep up, held at a participant's lag past its last mark, never ahead of the
wall clock, resumed without a jump, and a participant that holds it too long is let go."""
from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np
import pytest

from drivers.camera.mock import MockCamera
from kiosk.config import KioskConfig
from kiosk.sim.clock import PacedClock
from kiosk.sim.pacing import MAX_HOLD_S, pacing_for

START = 100.0


class FakeTime:
    """The wall clock, and a `wait` that lets fake time pass (running what was scheduled meanwhile)."""

    def __init__(self) -> None:
        self.t = START
        self.waits: list[float] = []
        self.scheduled: list[tuple[float, Callable[[], object]]] = []

    def __call__(self) -> float:
        return self.t

    def at(self, t: float, action: Callable[[], object]) -> None:
        self.scheduled.append((t, action))
        self.scheduled.sort(key=lambda item: item[0])

    def wait(self, _condition: threading.Condition, seconds: float) -> None:
        self.waits.append(seconds)
        end = self.t + seconds
        if self.scheduled and self.scheduled[0][0] <= end:
            self.t, action = self.scheduled.pop(0)
            action()          # under the clock's lock, as another thread's mark would wake the waiter
        else:
            self.t = end


def clock(max_hold_s: float = 5.0) -> tuple[PacedClock, FakeTime]:
    wall = FakeTime()
    return PacedClock(max_hold_s, wall=wall, wait=wall.wait), wall


def test_without_participants_it_is_the_wall_clock() -> None:
    paced, wall = clock()
    assert paced.now() == START
    wall.t += 3.0
    assert paced.now() == START + 3.0 and paced.waited() == {"behind_s": 0.0}
    paced.participant("thermal reader", 0.01)          # one that never looked holds nothing
    wall.t += 1.0
    assert paced.now() == START + 4.0


def test_held_at_the_lag_past_the_last_mark_and_resumed_without_a_jump() -> None:
    paced, wall = clock()
    recognition = paced.participant("recognition", 0.2)
    recognition.mark()
    wall.t += 1.0                                       # recognition is busy for a second of wall time
    assert paced.now() == pytest.approx(START + 0.2)
    assert paced.waited() == {"behind_s": 0.8, "recognition_s": 0.8}
    assert recognition.mark() == pytest.approx(START + 0.2)
    wall.t += 0.1
    assert paced.now() == pytest.approx(START + 0.3)    # on from where it was held
    assert paced.now() <= wall()


def test_the_slowest_participant_sets_the_pace() -> None:
    paced, wall = clock()
    recognition, reader = paced.participant("recognition", 0.2), paced.participant("thermal reader", 0.05)
    recognition.mark()
    reader.mark()
    wall.t += 1.0
    assert paced.now() == pytest.approx(START + 0.05)
    reader.mark()
    wall.t += 1.0
    assert paced.now() == pytest.approx(START + 0.1)
    reader.leave()
    wall.t += 1.0
    assert paced.now() == pytest.approx(START + 0.2)     # now only recognition holds it


def test_a_participant_holding_it_too_long_is_let_go_until_it_marks_again(caplog) -> None:
    paced, wall = clock(max_hold_s=5.0)
    recognition = paced.participant("recognition", 0.2)
    recognition.mark()
    wall.t += 0.2 + 5.0 + 1.0                           # held from +0.2 s, let go at +5.2 s, 1 s of running since
    assert paced.now() == pytest.approx(START + 0.2 + 1.0)
    assert not recognition.active and "recognition held the scene for 5.0 s" in caplog.text
    recognition.mark()                                  # back: it holds again from its mark
    wall.t += 1.0
    assert paced.now() == pytest.approx(START + 1.2 + 0.2)


def test_a_sleeper_does_not_hold_it_before_it_wakes() -> None:
    paced, wall = clock()
    reader = paced.participant("thermal reader", 0.01)
    reader.mark()
    reader.sleep(0.5)
    assert paced.now() == pytest.approx(START + 0.5) and wall() == pytest.approx(START + 0.5)
    assert paced.waited() == {"behind_s": 0.0, "thermal_reader_s": 0.0}


def test_a_sleeper_waits_while_another_participant_holds_the_clock() -> None:
    paced, wall = clock()
    recognition, reader = paced.participant("recognition", 0.2), paced.participant("thermal reader", 0.01)
    recognition.mark()
    wall.at(START + 1.0, recognition.mark)              # recognition finishes a frame after a second of wall time
    reader.sleep(0.3)
    assert paced.now() >= START + 0.3
    assert wall() == pytest.approx(START + 1.0 + 0.1)   # held at +0.2 until the mark, then 0.1 s on
    assert all(0 < seconds <= 0.5 for seconds in wall.waits)


def test_wait_until_gives_up_after_its_wall_timeout_while_held() -> None:
    paced, wall = clock()
    recognition = paced.participant("recognition", 0.2)
    recognition.mark()
    assert paced.wait_until(START + 0.1, timeout=1.0)
    assert not paced.wait_until(START + 0.5, timeout=0.3)
    assert wall() == pytest.approx(START + 0.1 + 0.3) and paced.now() == pytest.approx(START + 0.2)


def test_a_participant_needs_a_positive_lag() -> None:
    with pytest.raises(ValueError, match="lag_s must be positive"):
        PacedClock().participant("recognition", 0.0)


def test_the_mock_camera_stamps_its_frames_on_the_paced_clock_and_waits_for_the_kiosk() -> None:
    paced, wall = clock()
    recognition = paced.participant("recognition", 0.15)
    camera = MockCamera(lambda _t: np.zeros((2, 2, 3), np.uint8), fps=10, timebase=paced)
    camera.open()
    recognition.mark()
    wall.at(START + 2.0, recognition.mark)              # the kiosk recognises its next frame only after 2 s
    stamps = [camera.read().timestamp - START for _ in range(3)]
    assert stamps == pytest.approx([0.0, 0.1, 0.2], abs=1e-3)   # the scene did not run on while the kiosk was busy
    assert wall() == pytest.approx(START + 2.0 + 0.05, abs=1e-3)   # held at +0.15 until the mark


def test_the_pacing_follows_the_simulated_devices(tmp_path) -> None:
    base = {"device": {"state_dir": str(tmp_path)}, "camera": {"backend": "mock", "fps": 15},
            "thermal": {"backend": "mock", "refresh_hz": 16}}
    pacing = pacing_for(KioskConfig.model_validate(base))
    assert pacing is not None and pacing.max_hold_s == MAX_HOLD_S
    assert pacing.recognition_lead_s >= 2 / 15 and pacing.thermal_lag_s == pytest.approx(1 / 16 / 16)
    slow_camera = pacing_for(KioskConfig.model_validate({**base, "camera": {"backend": "mock", "fps": 5}}))
    assert slow_camera is not None and slow_camera.recognition_lead_s == pytest.approx(0.4)
    no_thermal = pacing_for(KioskConfig.model_validate({**base, "thermal": {"backend": "none"}}))
    assert no_thermal is not None and no_thermal.thermal_lag_s is None
    # A real device's frames are on time.monotonic: the scene must not drift away from it.
    assert pacing_for(KioskConfig.model_validate({**base, "camera": {"backend": "opencv"}})) is None
    assert pacing_for(KioskConfig.model_validate({**base, "thermal": {"backend": "i2c"}})) is None
    assert pacing_for(KioskConfig.model_validate({**base, "sim": {"paced": False}})) is None
    assert math.isinf(PacedClock().max_hold_s)
