"""kiosk.access.signal_patterns.PatternPlayer: LED/buzzer patterns with made-up times (no threads, no sleeping)."""
from __future__ import annotations

from kiosk.access.signal_patterns import PATTERNS, PatternPlayer

GREEN_BEEP, GREEN = frozenset({"green", "buzzer"}), frozenset({"green"})
RED_BEEP, RED = frozenset({"red", "buzzer"}), frozenset({"red"})
OFF = frozenset()


def timeline(player: PatternPlayer, now: float) -> list[tuple[float, frozenset[str]]]:
    """Every (time, outputs) from `now` on, following next_change as the output thread does."""
    steps = [(now, player.outputs(now))]
    while (now := player.next_change(now)) is not None:
        steps.append((now, player.outputs(now)))
    return steps


def test_nothing_is_on_before_a_pattern() -> None:
    player = PatternPlayer(PATTERNS)
    assert player.outputs(0.0) == OFF and player.next_change(0.0) is None


def test_welcome_is_one_beep_and_two_seconds_of_green() -> None:
    player = PatternPlayer(PATTERNS)
    player.play(10.0, "welcome")
    assert timeline(player, 10.0) == [(10.0, GREEN_BEEP), (10.15, GREEN), (12.0, OFF)]
    assert player.outputs(10.149) == GREEN_BEEP and player.outputs(10.15) == GREEN
    assert player.outputs(11.999) == GREEN and player.outputs(12.0) == OFF


def test_denied_is_three_beeps_and_two_seconds_of_red() -> None:
    player = PatternPlayer({"denied": PATTERNS["denied"]})
    player.play(0.0, "denied")
    steps = timeline(player, 0.0)
    assert [outputs for _, outputs in steps] == [RED_BEEP, RED, RED_BEEP, RED, RED_BEEP, RED, OFF]
    assert [round(t, 9) for t, _ in steps] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 2.0]


def test_a_new_pattern_cuts_the_playing_one_short() -> None:
    player = PatternPlayer(PATTERNS)
    player.play(0.0, "welcome")
    player.play(0.5, "denied")
    assert player.outputs(0.5) == RED_BEEP and player.next_change(0.5) == 0.6
    assert player.outputs(2.4) == RED, "the welcome's end at 2.0 no longer counts"
    assert player.outputs(2.5) == OFF and player.next_change(2.5) is None


def test_replaying_restarts_the_pattern() -> None:
    player = PatternPlayer(PATTERNS)
    player.play(0.0, "welcome")
    player.play(1.0, "welcome")
    assert player.outputs(1.0) == GREEN_BEEP and player.next_change(1.0) == 1.15
    assert player.outputs(2.5) == GREEN and player.next_change(2.5) == 3.0
