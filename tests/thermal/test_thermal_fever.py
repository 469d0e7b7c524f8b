"""Fever verdicts over repeated readings."""
from __future__ import annotations

from kiosk.config.temperature import TemperatureConfig
from kiosk.thermal.fever import FeverScreen
from kiosk.types import TemperatureReading


def _reading(body: float | None, quality: float = 0.9, reason: str | None = None) -> TemperatureReading:
    return TemperatureReading(body, None if body is None else body - 1.5, quality, 0.35, 0.6, reason)


def test_fever_needs_the_configured_number_of_good_readings():
    screen = FeverScreen(TemperatureConfig(confirm_readings=2))
    first = screen.update(_reading(38.2))
    assert first.fever is True and not first.confirmed and first.reason == "stand still"
    second = screen.update(_reading(38.4))
    assert second.fever is True and second.confirmed and second.body_c == 38.3


def test_low_quality_readings_give_no_verdict_and_pass_on_the_reason():
    screen = FeverScreen(TemperatureConfig())
    state = screen.update(_reading(39.0, quality=0.2, reason="come closer"))
    assert state.fever is None and state.reason == "come closer" and state.good_readings == 0
    screen.update(_reading(38.0))
    state = screen.update(_reading(40.0, quality=0.1, reason="stand still"))   # ignored
    assert state.fever is True and not state.confirmed and state.good_readings == 1


def test_a_normal_reading_clears_and_breaks_a_fever_run():
    screen = FeverScreen(TemperatureConfig(confirm_readings=2, fever_threshold_c=37.5))
    screen.update(_reading(37.9))
    state = screen.update(_reading(37.1))
    assert state.fever is False and state.confirmed
    state = screen.update(_reading(37.8))
    assert state.fever is True and not state.confirmed    # the run starts again
    screen.reset()
    assert screen.update(_reading(None, 0.0, "face not in thermal view")).fever is None
