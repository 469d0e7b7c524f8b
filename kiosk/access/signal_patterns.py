"""LED/buzzer patterns and a pure player: which outputs are on at a given time.

`PatternPlayer` holds no clock and no thread; `kiosk.access.feedback.SignalOutputs` asks it for the
outputs at the current time and for when they next change, writes the lines and waits.
"""
from __future__ import annotations

from typing import Optional

# (seconds, {output: on}) steps; every output is off at the end.
Pattern = list[tuple[float, dict[str, bool]]]
PATTERNS: dict[str, Pattern] = {
    "welcome": [(0.15, {"green": True, "buzzer": True}), (1.85, {"green": True, "buzzer": False})],
    "denied": [(0.1, {"red": True, "buzzer": True}), (0.1, {"red": True, "buzzer": False}),
               (0.1, {"red": True, "buzzer": True}), (0.1, {"red": True, "buzzer": False}),
               (0.1, {"red": True, "buzzer": True}), (1.5, {"red": True, "buzzer": False})],
}


class PatternPlayer:
    """Plays one pattern at a time; a new one cuts short the one playing."""

    def __init__(self, patterns: dict[str, Pattern]) -> None:
        self.patterns = patterns
        self._steps: list[tuple[float, frozenset[str]]] = []   # (end time, outputs on)

    def play(self, now: float, name: str) -> None:
        end, self._steps = now, []
        for seconds, outputs in self.patterns[name]:
            end += seconds
            self._steps.append((end, frozenset(output for output, on in outputs.items() if on)))

    def outputs(self, now: float) -> frozenset[str]:
        """The outputs on at `now` (none before the first play and after the end of a pattern)."""
        step = self._step(now)
        return step[1] if step is not None else frozenset()

    def next_change(self, now: float) -> Optional[float]:
        """When the current step ends (None: nothing playing)."""
        step = self._step(now)
        return step[0] if step is not None else None

    def _step(self, now: float) -> Optional[tuple[float, frozenset[str]]]:
        return next((step for step in self._steps if now < step[0]), None)
