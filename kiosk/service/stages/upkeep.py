"""The daemon's periodic stages: the health report, the systemd watchdog, the attendance ledger, retention, and
following enrollments made by other processes. Each is a loop with its dependencies passed in; blocking store
work runs on the store thread.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, Optional, Protocol

from ...access.attendance import Attendance
from ...config.runtime import HealthConfig
from ...recognition.matching import Matcher
from ...store import Store
from ..health import HealthMonitor
from ..sdnotify import Notifier
from ..timesync import ClockWatch

log = logging.getLogger("kiosk.daemon")

ATTENDANCE_SAVE_S = 5.0
STORE_POLL_S = 2.0            # how often changes made by other processes (the CLI) are looked for


class HealthSink(Protocol):
    def update_health(self, report: dict[str, Any]) -> None: ...


async def report_health(config: HealthConfig, health: HealthMonitor, clock: ClockWatch, notifier: Notifier, *,
                        frames_dropped: Callable[[], int], mqtt: Optional[HealthSink] = None) -> None:
    """Every health.interval_s: check the clock, log the report (every health.log_interval_s, or when the alarms
    change), hand it to MQTT, and tell systemd the figures."""
    logged_at, logged_alarms = -float("inf"), None
    clock.check()
    while True:
        await asyncio.sleep(config.interval_s)
        clock.check()
        report = health.report()
        now = time.monotonic()
        if now - logged_at >= config.log_interval_s or report["alarms"] != logged_alarms:
            logged_at, logged_alarms = now, report["alarms"]
            log.info("health", extra={"fields": {
                "alive": report["pipeline_alive"], "fps": report["fps"],
                "recognition_ms": report["latency"].get("recognition", {}).get("p50_ms"),
                "frames_dropped": frames_dropped(), "alarms": report["alarms"] or None}})
        if mqtt is not None:
            mqtt.update_health(report)
        notifier.status(f"{report['fps'].get('pipeline', 0):.1f} fps, "
                        f"{sum(v for k, v in report['counters'].items() if k.startswith('decisions_'))} decisions")


async def watchdog(health: HealthMonitor, notifier: Notifier, interval_s: float) -> None:
    """Feed the systemd watchdog only while results flow: a stalled pipeline gets the daemon restarted."""
    while True:
        await asyncio.sleep(interval_s)
        if health.pipeline_alive():
            notifier.watchdog()
        else:
            log.error("pipeline stalled: not feeding the systemd watchdog")


class AttendanceSaver:
    """Writes the attendance ledger on the store thread, every ATTENDANCE_SAVE_S while it has changed, and once
    more at shutdown; a failure (disk full) is an alarm, not a crash."""

    def __init__(self, attendance: Attendance, store_thread: Executor, health: HealthMonitor) -> None:
        self.attendance = attendance
        self.store_thread = store_thread
        self.health = health
        self._dirty = False

    def changed(self) -> None:
        self._dirty = True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(ATTENDANCE_SAVE_S)
            if self._dirty:
                self._dirty = False
                if not await self.save():
                    self._dirty = True

    async def save(self) -> bool:
        try:
            await asyncio.get_running_loop().run_in_executor(self.store_thread, self.attendance.save)
        except Exception as exc:
            self.health.raise_alarm("attendance_ledger", str(exc))
            log.error("attendance ledger not saved: %s", exc)
            return False
        self.health.clear_alarm("attendance_ledger")
        return True


async def retention(store: Store, store_thread: Executor, interval_s: float) -> None:
    """Purge what the retention rules say has expired, every store.retention_interval_s."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            report = await loop.run_in_executor(store_thread, store.purge_expired)
            if any(report.as_dict().values()):
                log.info("retention purge", extra={"fields": report.as_dict()})
        except Exception:
            log.exception("retention purge failed")
        await asyncio.sleep(interval_s)


async def follow_other_writers(store: Store, store_thread: Executor, matchers: Sequence[Matcher],
                               attendance: Attendance) -> None:
    """Keep the matchers in step with enrollments and erasures made by other processes (the `kiosk` CLI writes
    the same database). Changes made here or applied from the fleet arrive through the store's change hook at
    once; these are picked up within STORE_POLL_S."""
    loop = asyncio.get_running_loop()
    seen = await loop.run_in_executor(store_thread, store.version_high_water)
    while True:
        await asyncio.sleep(STORE_POLL_S)
        changed = await loop.run_in_executor(store_thread, store.persons_changed_since, seen)
        for person in changed:
            for matcher in matchers:
                await loop.run_in_executor(store_thread, matcher.refresh_person, store, person.person_id)
            if person.deleted:
                attendance.forget(person.person_id)
            seen = max(seen, person.version_counter)
        if changed:
            log.info("persons changed by another process", extra={"fields": {"persons": len(changed)}})
