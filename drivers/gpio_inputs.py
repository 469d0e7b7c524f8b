"""Door contact and exit (request-to-exit) button on GPIO lines through libgpiod v2.

Both lines are inputs with edge detection on both edges and the kernel's debouncer
(`debounce_period`). Contacts are wired to ground with the internal pull-up by default
(`active_low=True`), or to 3.3 V with the pull-down; either way "active" means the contact is
closed: the door is shut (door contact) or the button is pressed (exit button).

The request's file descriptor becomes readable when edges are pending, so the daemon can watch
it with `loop.add_reader(inputs.fileno(), ...)` and call `read_changes()` without blocking.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

import gpiod
from gpiod.line import Bias, Direction, Edge, Value

from .health import DeviceHealth, HealthState

DOOR = "door"
EXIT = "exit"


@dataclass(frozen=True)
class InputChange:
    name: str            # "door" or "exit"
    active: bool         # contact closed: door shut / button pressed
    timestamp_ns: int    # kernel timestamp (CLOCK_MONOTONIC)

    @property
    def description(self) -> str:
        if self.name == DOOR:
            return "door closed" if self.active else "door opened"
        return "exit button pressed" if self.active else "exit button released"


class InputError(Exception):
    """The input lines could not be requested or read."""


class GpioInputs:
    def __init__(self, chip: str, *, door_line: Optional[int], exit_line: Optional[int], active_low: bool = True,
                 debounce_s: float = 0.02, consumer: str = "kiosk-door",
                 request_lines: Optional[Callable[..., Any]] = None) -> None:
        self.chip = chip
        self.lines = {name: line for name, line in ((DOOR, door_line), (EXIT, exit_line)) if line is not None}
        if len(set(self.lines.values())) != len(self.lines):
            raise InputError(f"door contact and exit button cannot share line {door_line}")
        self.active_low = active_low
        self.debounce_s = debounce_s
        self.consumer = consumer
        self._request_lines = request_lines or gpiod.request_lines
        self._request: Any = None
        self._names = {line: name for name, line in self.lines.items()}
        self._state: dict[str, bool] = {}
        self.health = DeviceHealth(HealthState.failed, "not opened", {"edges": 0})

    def open(self) -> dict[str, bool]:
        """Request the lines; returns the current state {"door": shut?, "exit": pressed?}."""
        if not self.lines:
            raise InputError("no door contact or exit button line configured")
        settings = gpiod.LineSettings(direction=Direction.INPUT, edge_detection=Edge.BOTH, active_low=self.active_low,
                                      bias=Bias.PULL_UP if self.active_low else Bias.PULL_DOWN,
                                      debounce_period=timedelta(seconds=self.debounce_s))
        try:
            self._request = self._request_lines(self.chip, config={tuple(self.lines.values()): settings},
                                                consumer=self.consumer)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot request door inputs {self.lines} on {self.chip}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
        self._state = self.read_state()
        self.health.state, self.health.detail = HealthState.ok, "open"
        return dict(self._state)

    def fileno(self) -> int:
        return self._request.fd

    def read_state(self) -> dict[str, bool]:
        return {name: self._request.get_value(line) == Value.ACTIVE for name, line in self.lines.items()}

    def read_changes(self) -> list[InputChange]:
        """Pending edges as state changes; bounces that repeat the current state are dropped."""
        try:
            events = self._request.read_edge_events()
        except OSError as exc:
            self.health.state, self.health.detail = HealthState.failed, str(exc)
            raise InputError(f"cannot read door inputs: {exc}") from None
        changes = []
        for event in events:
            name = self._names.get(event.line_offset)
            if name is None:
                continue
            active = event.event_type == gpiod.EdgeEvent.Type.RISING_EDGE
            if self._state.get(name) == active:
                continue
            self._state[name] = active
            self.health.counters["edges"] += 1
            changes.append(InputChange(name, active, event.timestamp_ns))
        return changes

    def close(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            request.release()
            self.health.state, self.health.detail = HealthState.failed, "closed"
