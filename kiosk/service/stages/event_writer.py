"""The event writer stage: every event is committed to the local event log before anything else happens to it.

    decision / door / remote command --submit()--> queue --> store thread: number, sign, commit
                                                               (event + its match audit, one transaction)
                                                          --> MQTT outbox (fast path; gaps are filled from
                                                              the log by seq: kiosk/mqtt/reconcile.py)

`submit()` returns a future that is True once the event is in the log: a grant opens the gate only then
(kiosk/service/stages/decision.py), so a crash or a failing disk cannot leave a gate opening unrecorded. An event that no
retry can record (malformed: a bug) is refused and alarmed so that it does not hold back the ones behind it;
any other failure (disk full, read-only, locked) is retried with backoff, in order, and alarmed.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from ...store import MatchAttempt, RecordError
from ..health import HealthMonitor

log = logging.getLogger("kiosk.daemon")

RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0


class EventLog(Protocol):
    def record_event(self, event: dict[str, Any], match: Optional[MatchAttempt] = None) -> dict[str, Any]: ...


class EventSink(Protocol):
    async def publish_event(self, event: dict[str, Any]) -> bool: ...


@dataclass
class PendingEvent:
    event: dict[str, Any]
    match: Optional[MatchAttempt]
    recorded: asyncio.Future[bool] = field(repr=False)


async def wait_recorded(recorded: Sequence[asyncio.Future[bool]], timeout_s: float) -> Optional[str]:
    """None once every event (futures of `EventWriter.submit`) is in the local log; else why not: refused, or not
    within `timeout_s`. Waiting never cancels a write (the futures are shielded)."""
    try:
        done = await asyncio.wait_for(asyncio.gather(*(asyncio.shield(r) for r in recorded)), timeout_s)
    except TimeoutError:
        return f"not recorded within {timeout_s:g} s"
    return None if all(done) else "refused by the event log"


class EventWriter:
    def __init__(self, store: EventLog, store_thread: Executor, health: HealthMonitor, *,
                 clock_synchronised: Callable[[], Optional[bool]] = lambda: None) -> None:
        """`clock_synchronised()`: False while the kernel says the clock is not synchronised (the event then
        says so, signed: its device_time may be wrong)."""
        self.store = store
        self.store_thread = store_thread
        self.health = health
        self.sink: Optional[EventSink] = None          # the MQTT service, once started
        self._clock_synchronised = clock_synchronised
        self._queue: asyncio.Queue[PendingEvent] = asyncio.Queue()   # unbounded: events are never dropped
        self.unwritten = 0                              # submitted and not yet finished (queued or being written)

    def submit(self, event: dict[str, Any], match: Optional[MatchAttempt] = None) -> asyncio.Future[bool]:
        """Queue an event (and the match attempt it records); the future is True once it is in the local log,
        False if it was refused as malformed. Never blocks, never drops."""
        recorded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(PendingEvent(event, match, recorded))
        self.unwritten += 1
        return recorded

    def qsize(self) -> int:
        return self._queue.qsize()

    async def drain(self, timeout_s: float) -> int:
        """Wait until every submitted event has been written, or `timeout_s`; the number still not written."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except TimeoutError:
            pass
        return self.unwritten

    async def run(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            finally:
                if not pending.recorded.done():
                    pending.recorded.set_result(False)
                self.unwritten -= 1
                self._queue.task_done()

    async def _write(self, pending: PendingEvent) -> None:
        event = pending.event
        if self._clock_synchronised() is False:
            event = {**event, "clock_synchronised": False}
        signed = await self._record(event, pending.match)
        if signed is None:
            return
        pending.recorded.set_result(True)
        self.health.count("events")
        if self.sink is not None and not await self.sink.publish_event(signed):
            # Not lost: it is in the local log, and the outbox takes it from there once there is room.
            self.health.count("events_behind_outbox")

    async def _record(self, event: dict[str, Any], match: Optional[MatchAttempt]) -> Optional[dict[str, Any]]:
        """The signed event once it is in the local log; None for an event no retry can record."""
        loop = asyncio.get_running_loop()
        delay = RETRY_FIRST_S
        while True:
            try:
                signed = await loop.run_in_executor(self.store_thread, self.store.record_event, event, match)
                self.health.clear_alarm("event_log")
                return signed
            except RecordError as exc:
                self.health.count("events_refused")
                self.health.raise_alarm("event_refused", f"{event.get('type')} {event.get('event_id')}: {exc}")
                log.error("event refused by the event log, not recorded", extra={"fields": {
                    "type": event.get("type"), "event_id": event.get("event_id"), "error": str(exc)}})
                return None
            except Exception as exc:   # disk full, read-only, database locked: keep the event and retry
                self.health.raise_alarm("event_log", str(exc))
                log.error("event log write failed, retrying: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
