"""Health state that every driver reports."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class HealthState(StrEnum):
    ok = "ok"
    degraded = "degraded"  # working, with errors (retries, dropped frames)
    failed = "failed"      # not working


@dataclass
class DeviceHealth:
    state: HealthState = HealthState.ok
    detail: str = ""
    counters: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"state": self.state.value, "detail": self.detail, **self.counters}
