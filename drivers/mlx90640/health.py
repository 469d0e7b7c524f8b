"""Health bookkeeping for an MLX90640: counters plus the problems that are active right now.

State rules: any active problem makes the device `degraded`, a `failed` problem (no frame within a
read timeout) makes it `failed`; problems clear when the sensor delivers clean subpages again.
"""
from __future__ import annotations

from ..health import DeviceHealth, HealthState

RECOVER_AFTER_SUBPAGES = 4      # clean subpages in a row that end a burst of bus errors


class HealthMonitor:
    def __init__(self, errors_before_degraded: int = 5, health: DeviceHealth | None = None) -> None:
        self.health = health or DeviceHealth()
        self.errors_before_degraded = errors_before_degraded
        self._problems: dict[str, str] = {}
        self._consecutive_errors = 0
        self._clean_subpages = 0

    def count(self, name: str, n: int = 1) -> None:
        self.health.counters[name] = self.health.counters.get(name, 0) + n

    def bus_error(self, exc: BaseException) -> None:
        self.count("bus_errors")
        self._consecutive_errors += 1
        self._clean_subpages = 0
        if self._consecutive_errors >= self.errors_before_degraded:
            self.set_problem("bus", f"{self._consecutive_errors} I2C errors in a row (last: {exc})")

    def transfer_ok(self) -> None:
        self._consecutive_errors = 0

    def good_subpage(self) -> None:
        self.count("subpages")
        self.clear_problem("failed")
        self._clean_subpages += 1
        if self._clean_subpages >= RECOVER_AFTER_SUBPAGES:
            self.clear_problem("bus")

    def set_problem(self, key: str, detail: str) -> None:
        self._problems[key] = detail
        self._update()

    def clear_problem(self, key: str) -> None:
        if self._problems.pop(key, None) is not None:
            self.count("recoveries")
            self._update(recovered=key)

    def _update(self, recovered: str | None = None) -> None:
        h = self.health
        if "failed" in self._problems:
            h.state = HealthState.failed
        elif self._problems:
            h.state = HealthState.degraded
        else:
            h.state = HealthState.ok
        if self._problems:
            h.detail = "; ".join(self._problems.values())
        elif recovered:
            h.detail = f"recovered ({recovered})"
