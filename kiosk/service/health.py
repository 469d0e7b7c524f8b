"""Health of the running daemon: rates, stage latencies, queue depths, device states, alarms.

The systemd watchdog is fed only while the pipeline really produces results (`pipeline_alive`),
not merely while the event loop runs.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class Rate:
    """Events per second over a sliding window."""

    window_s: float = 5.0
    _times: deque = field(default_factory=deque)

    def tick(self, now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()

    def per_second(self, now: Optional[float] = None) -> float:
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        return len(self._times) / self.window_s


@dataclass
class Latency:
    """Recent latencies of one stage, in milliseconds."""

    samples: deque = field(default_factory=lambda: deque(maxlen=200))

    def add(self, seconds: float) -> None:
        self.samples.append(seconds * 1000.0)

    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {}
        values = np.fromiter(self.samples, float)
        return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2)}


class HealthMonitor:
    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self.started = time.monotonic()
        self.rates: dict[str, Rate] = {}
        self.latencies: dict[str, Latency] = {}
        self.counters: dict[str, int] = {}
        self.alarms: dict[str, str] = {}
        self.warnings: set[str] = set()          # alarms that do not make a selftest fail (an unsynchronised clock)
        self.gauges: dict[str, Callable[[], object]] = {}
        self.last_result: Optional[float] = None

    def tick(self, name: str) -> None:
        self.rates.setdefault(name, Rate()).tick()

    def latency(self, name: str, seconds: float) -> None:
        self.latencies.setdefault(name, Latency()).add(seconds)

    def count(self, name: str, increment: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + increment

    def gauge(self, name: str, read: Callable[[], object]) -> None:
        """Register a value read at report time (queue depth, device health, outbox size)."""
        self.gauges[name] = read

    def raise_alarm(self, name: str, detail: str, *, warning: bool = False) -> None:
        self.alarms[name] = detail
        if warning:
            self.warnings.add(name)
        else:
            self.warnings.discard(name)

    def clear_alarm(self, name: str) -> None:
        self.alarms.pop(name, None)
        self.warnings.discard(name)

    def failing_alarms(self) -> dict[str, str]:
        """The alarms that are not mere warnings."""
        return {name: detail for name, detail in self.alarms.items() if name not in self.warnings}

    def pipeline_result(self) -> None:
        """The recognition stage finished a frame (with or without a face)."""
        self.last_result = time.monotonic()
        self.tick("pipeline")

    def pipeline_alive(self) -> bool:
        reference = self.last_result if self.last_result is not None else self.started
        return time.monotonic() - reference < self.stall_s

    def report(self) -> dict:
        gauges = {}
        for name, read in self.gauges.items():
            try:
                gauges[name] = read()
            except Exception as exc:  # a broken gauge must not break the health report
                gauges[name] = f"error: {exc}"
        return {
            "uptime_s": round(time.monotonic() - self.started, 1),
            "pipeline_alive": self.pipeline_alive(),
            "fps": {name: round(rate.per_second(), 2) for name, rate in self.rates.items()},
            "latency": {name: lat.summary() for name, lat in self.latencies.items()},
            "counters": dict(self.counters),
            "alarms": dict(self.alarms),
            **gauges,
        }
