"""kiosk.access.feedback: messages per state, hold time, the headless and OpenCV displays, LEDs and buzzer."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np
import pytest
from fake_clock import FakeClock
from gate_helpers import AT, LIVE, STAFF, WAIT_S, config, match, reading

from drivers.relay.fake_chip import FakeGpioChip
from kiosk.access.feedback import COLOURS, IDLE_TEXT, Feedback, FeedbackError, Screen, SignalOutputs, render
from kiosk.access.policy import Notice, Observation, decide
from kiosk.access.tracker import Step, Verdict


class WatchedChip(FakeGpioChip):
    """A fake chip whose level changes a test can wait for (the outputs are driven by a thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition(self._lock)   # every level change happens under _lock

    def _set_level(self, offset: int, level: int) -> None:
        super()._set_level(offset, level)
        self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        with self._changed:
            assert self._changed.wait_for(predicate, WAIT_S), f"not within {WAIT_S:g} s: {what}"

    def levels(self, line: int) -> list[int]:
        """The line's levels in order, repeats dropped (the outputs thread writes every line each time)."""
        out: list[int] = []
        for _, offset, level in self.history:
            if offset == line and (not out or out[-1] != level):
                out.append(level)
        return out



def granted():
    return decide(Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(36.6),),
                              mask_score=0.9), config())


def prompt():
    return decide(Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE,
                              temperatures=(reading(34.0, 0.1, "come closer"),)), config())


def test_headless_logs_each_message_once(caplog) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.feedback")
    feedback = Feedback(config({"display": {"hold_s": 0}}), clock=FakeClock())
    feedback.start()
    for _ in range(3):
        feedback.show_decision(prompt())
    feedback.show_decision(granted())
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [f"display: [idle] {IDLE_TEXT}", "display: [come_closer] Please come closer",
                     "display: [welcome] Welcome, Ada - 36.6 °C"]
    feedback.close()


def test_verdict_is_held_then_prompts_and_idle_come_back() -> None:
    clock = FakeClock()
    feedback = Feedback(config({"display": {"hold_s": 3}}), clock=clock)
    decision = granted()
    feedback.present(Step(1, verdict=Verdict(1, decision, Observation(at=AT))))
    assert feedback.current.notice == Notice.welcome and feedback.current.verdict
    clock.now += 2.9
    feedback.present(Step(1, prompt=prompt()))
    feedback.present(Step(None))
    assert feedback.current.notice == Notice.welcome, "held for hold_s"
    clock.now += 0.2
    feedback.present(Step(1, prompt=prompt()))
    assert feedback.current == Screen(Notice.come_closer, "Please come closer")
    feedback.present(Step(1))          # a person is there, nothing new: keep the prompt
    assert feedback.current.notice == Notice.come_closer
    feedback.present(Step(None))
    assert feedback.current == Screen(None, IDLE_TEXT)


def test_render_colours_and_text() -> None:
    for notice in (Notice.welcome, Notice.come_closer, Notice.fever, None):
        image = render(Screen(notice, "Welcome, Ada - 36.6 °C"))
        assert image.shape == (480, 800, 3) and image.dtype == np.uint8
        assert tuple(int(v) for v in image[5, 5]) == COLOURS[notice]
        assert (image == 255).all(axis=2).sum() > 500, "white text drawn"
    long = render(Screen(Notice.see_staff, "word " * 40))
    assert (long == 255).all(axis=2).any()


def test_opencv_backend_without_gui_is_a_clear_error() -> None:
    import cv2

    try:
        cv2.namedWindow("probe")
        cv2.destroyWindow("probe")
        pytest.skip("this OpenCV has GUI support")
    except cv2.error:
        pass
    feedback = Feedback(config({"display": {"backend": "opencv"}}))
    with pytest.raises(FeedbackError, match=r"^display.backend = opencv: cannot open a window .*opencv-python"):
        feedback.start()


def test_leds_and_buzzer_play_the_patterns() -> None:
    """The outputs thread writes what the PatternPlayer says (its timing: test_gate_patterns.py)."""
    chip = WatchedChip()
    lines = {"green": 5, "red": 6, "buzzer": 13}
    outputs = SignalOutputs("/dev/gpiochip0", lines, request_lines=chip.request_lines)
    outputs.start()
    levels = lambda: {name: chip.level(line) for name, line in lines.items()}  # noqa: E731
    assert levels() == {"green": 0, "red": 0, "buzzer": 0}
    outputs.play("welcome")
    chip.wait_until(lambda: chip.levels(13) == [0, 1, 0], "the welcome beep")
    assert levels() == {"green": 1, "red": 0, "buzzer": 0}, "green stays on after the beep"
    outputs.play("denied")               # cuts the welcome short
    chip.wait_until(lambda: chip.levels(13) == [0, 1, 0, 1, 0, 1, 0, 1, 0], "three more beeps")
    assert levels() == {"green": 0, "red": 1, "buzzer": 0}
    green_on = next(when for when, line, level in chip.history if line == 5 and level == 1)
    red_on = next(when for when, line, level in chip.history if line == 6 and level == 1)
    assert red_on < green_on + 2.0, "the denial began before the welcome's 2 s were over"
    outputs.close()
    assert levels() == {"green": 0, "red": 0, "buzzer": 0}
    assert not chip._owners, "lines released"
    assert (chip.levels(5), chip.levels(6)) == ([0, 1, 0], [0, 1, 0])


def test_feedback_drives_outputs_from_config() -> None:
    chip = WatchedChip()
    cfg = config({"display": {"led_green_line": 5, "led_red_line": 6, "hold_s": 0}})
    feedback = Feedback(cfg, request_lines=chip.request_lines)
    feedback.start()
    played: list[str] = []
    outputs = feedback._outputs
    play = outputs.play
    outputs.play = lambda name: (played.append(name), play(name))
    feedback.show_decision(granted())
    chip.wait_until(lambda: chip.level(5) == 1, "green LED on")
    feedback.show_decision(prompt())     # prompts do not light anything new
    assert played == ["welcome"] and (chip.level(5), chip.level(6)) == (1, 0)
    feedback.close()
    assert (chip.level(5), chip.level(6)) == (0, 0)


def test_outputs_busy_line_is_a_clear_error() -> None:
    chip = FakeGpioChip()
    chip.request_lines("/dev/gpiochip0", {5: None})
    with pytest.raises(FeedbackError, match=r"cannot request display LED/buzzer lines .* busy"):
        Feedback(config({"display": {"led_green_line": 5}}), request_lines=chip.request_lines).start()
