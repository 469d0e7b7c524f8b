"""Gate relay on one GPIO line through libgpiod v2 (the `gpiod` package).

The line is requested as an output that starts inactive (locked). With `active_low` the kernel
inverts the line, so "active" always means "relay energised = unlocked" for this driver.
`request_lines` defaults to `gpiod.request_lines`; tests pass a fake chip's method with the same
signature, so they run this very code.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import gpiod
from gpiod.line import Direction, Value

from ..health import DeviceHealth, HealthState
from .base import Relay, RelayError, error_reason

RequestLines = Callable[..., Any]


def output_settings(active_low: bool) -> gpiod.LineSettings:
    """An output line that is driven inactive the moment it is requested."""
    return gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE, active_low=active_low)


class GpioRelay(Relay):
    def __init__(self, chip: str, line: int, *, active_low: bool = False, consumer: str = "kiosk-gate",
                 request_lines: Optional[RequestLines] = None) -> None:
        self.chip = chip
        self.line = line
        self.active_low = active_low
        self.consumer = consumer
        self._request_lines = request_lines or gpiod.request_lines
        self._request: Any = None
        self.health = DeviceHealth(HealthState.failed, "not opened", {"switches": 0, "errors": 0})

    def describe(self) -> str:
        return f"gpio {self.chip} line {self.line}{' (active-low)' if self.active_low else ''}"

    def open(self) -> None:
        if self._request is not None:
            return
        try:
            self._request = self._request_lines(self.chip, config={self.line: output_settings(self.active_low)},
                                                consumer=self.consumer)
        except (OSError, ValueError) as exc:
            self.health.state, self.health.detail = HealthState.failed, str(exc)
            raise RelayError(f"cannot request {self.describe()}: {error_reason(exc)}") from None
        self.health.state, self.health.detail = HealthState.ok, "locked"

    def set_unlocked(self, unlocked: bool) -> None:
        if self._request is None:
            raise RelayError(f"{self.describe()} is not open")
        try:
            self._request.set_value(self.line, Value.ACTIVE if unlocked else Value.INACTIVE)
        except OSError as exc:
            self.health.counters["errors"] += 1
            self.health.state, self.health.detail = HealthState.failed, str(exc)
            raise RelayError(f"cannot drive {self.describe()}: {error_reason(exc)}") from None
        self.health.counters["switches"] += 1
        self.health.state, self.health.detail = HealthState.ok, "unlocked" if unlocked else "locked"

    def close(self) -> None:
        request, self._request = self._request, None
        if request is None:
            return
        try:
            request.set_value(self.line, Value.INACTIVE)
        except OSError as exc:
            raise RelayError(f"cannot release {self.describe()}: {error_reason(exc)}") from None
        finally:
            # The kernel keeps the last driven level after release, so the line stays inactive.
            request.release()
            self.health.state, self.health.detail = HealthState.failed, "closed"
