"""kiosk.feedback: messages per state, hold time, the headless and OpenCV displays, LEDs and buzzer."""
from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from gate_helpers import AT, LIVE, STAFF, config, match, reading

from drivers.relay.fake_chip import FakeGpioChip
from kiosk.feedback import COLOURS, IDLE_TEXT, Feedback, FeedbackError, Screen, SignalOutputs, render
from kiosk.policy import Notice, Observation, decide
from kiosk.tracker import Step, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def granted():
    return decide(Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(36.6),),
                              mask_score=0.9), config())


def prompt():
    return decide(Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE,
                              temperatures=(reading(34.0, 0.1, "come closer"),)), config())


def test_headless_logs_each_message_once(caplog) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.feedback")
    feedback = Feedback(config({"display": {"hold_s": 0}}), clock=Clock())
    feedback.start()
    for _ in range(3):
        feedback.show_decision(prompt())
    feedback.show_decision(granted())
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [f"display: [idle] {IDLE_TEXT}", "display: [come_closer] Please come closer",
                     "display: [welcome] Welcome, Ada - 36.6 °C"]
    feedback.close()


def test_verdict_is_held_then_prompts_and_idle_come_back() -> None:
    clock = Clock()
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


def test_leds_and_buzzer_follow_the_verdict() -> None:
    chip = FakeGpioChip()
    lines = {"green": 5, "red": 6, "buzzer": 13}
    outputs = SignalOutputs("/dev/gpiochip0", lines, request_lines=chip.request_lines)
    outputs.start()
    levels = lambda: {name: chip.level(line) for name, line in lines.items()}  # noqa: E731
    assert levels() == {"green": 0, "red": 0, "buzzer": 0}
    outputs.play("welcome")
    time.sleep(0.05)
    assert levels() == {"green": 1, "red": 0, "buzzer": 1}
    time.sleep(0.2)
    assert levels() == {"green": 1, "red": 0, "buzzer": 0}
    outputs.play("denied")               # cuts the welcome short
    time.sleep(0.05)
    assert levels() == {"green": 0, "red": 1, "buzzer": 1}
    outputs.close()
    assert levels() == {"green": 0, "red": 0, "buzzer": 0}
    assert not chip._owners, "lines released"
    buzzes = [level for _, line, level in chip.history if line == 13]
    assert buzzes.count(1) >= 2


def test_feedback_drives_outputs_from_config() -> None:
    chip = FakeGpioChip()
    cfg = config({"display": {"led_green_line": 5, "led_red_line": 6, "hold_s": 0}})
    feedback = Feedback(cfg, request_lines=chip.request_lines)
    feedback.start()
    feedback.show_decision(granted())
    time.sleep(0.05)
    assert (chip.level(5), chip.level(6)) == (1, 0)
    feedback.show_decision(prompt())     # prompts do not light anything new
    time.sleep(0.05)
    assert (chip.level(5), chip.level(6)) == (1, 0)
    feedback.close()
    assert (chip.level(5), chip.level(6)) == (0, 0)


def test_outputs_busy_line_is_a_clear_error() -> None:
    chip = FakeGpioChip()
    chip.request_lines("/dev/gpiochip0", {5: None})
    with pytest.raises(FeedbackError, match=r"cannot request display LED/buzzer lines .* busy"):
        Feedback(config({"display": {"led_green_line": 5}}), request_lines=chip.request_lines).start()
