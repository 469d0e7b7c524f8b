"""The asyncio side of the outbox: group commit, acknowledgements, alarms and the memory overflow.

All SQLite work runs on one private writer thread, in call order. `put()` returns once the
message is committed; messages that arrive while a commit is running are committed together in
the next transaction (group commit), so a burst costs one fsync per batch, not per message.

When the outbox holds `max_events` rows, or SQLite cannot write (disk full, I/O error), an alarm
is raised and a new message is not committed. An event of the local log (`log_backed`, the
daemon) is then simply not taken: `on_behind()` is called and kiosk/mqtt/reconcile.py takes it
from the log, in order, once there is room; nothing is held only in memory. Other messages (fleet
records, events of a service without a log) are held in memory, in order, and committed as soon as
there is room again; only when that overflow is also full is one refused, counted and logged.
`put()` never raises for storage trouble and never blocks the caller beyond one commit.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional, TypeVar

from .outbox import EventCursor, Message, Outbox, Row, is_disk_full
from .outbox_rebuild import open_or_rebuild

log = logging.getLogger("kiosk.mqtt")
T = TypeVar("T")

OVERFLOW_MAX = 10_000          # messages held in memory while the outbox cannot take them
RETRY_PERIOD_S = 1.0           # how often a held-back overflow is retried
MAX_BATCH = 1000               # rows per commit

ALARM_FULL = "outbox_full"
ALARM_DISK = "disk_full"
ALARM_STORAGE = "storage_error"
ALARM_REJECTED = "broker_rejected"


class DurableQueue:
    def __init__(self, path: Path, max_events: int, *, max_page_count: Optional[int] = None,
                 on_alarm: Optional[Callable[[frozenset[str]], None]] = None, log_backed: bool = False,
                 on_behind: Optional[Callable[[], None]] = None) -> None:
        """`log_backed`: events (messages with an `event_seq`) are also in a local log that refills the outbox
        (reconcile.py): a damaged file is set aside and a new one started (outbox_rebuild.py) instead of
        raising OutboxDamaged from open(), and events are never held in memory (`on_behind()` instead)."""
        self.path = Path(path)
        self.log_backed = log_backed
        self._on_behind = on_behind
        self.rebuilt = False
        self.max_events = max_events
        self._max_page_count = max_page_count
        self._on_alarm = on_alarm
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-outbox")
        self._outbox: Optional[Outbox] = None
        self._pending: list[tuple[Message, asyncio.Future[bool]]] = []
        self._overflow: deque[Message] = deque()
        self._acked: list[int] = []
        self.acked_unflushed: set[int] = set()
        self._flusher: Optional[asyncio.Task[None]] = None
        self._deleter: Optional[asyncio.Task[None]] = None
        self._retrier: Optional[asyncio.Task[None]] = None
        self.new_data = asyncio.Event()
        self.depth = 0
        self.oldest_created: Optional[float] = None
        self.published = 0
        self.dropped = 0
        self.rejected = 0
        self._alarms: set[str] = set()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        """Open the file (raises OutboxError) and load the counters; a backlog is announced via new_data."""
        def _open() -> tuple[Outbox, bool, int, Optional[float], int]:
            box, rebuilt = open_or_rebuild(self.path, self._max_page_count, self.log_backed)
            return box, rebuilt, box.depth(), box.oldest_created(), box.rejected_count()
        self._outbox, self.rebuilt, self.depth, self.oldest_created, self.rejected = await self._run(_open)
        if self.rejected:
            self._raise(ALARM_REJECTED)
        if self.depth >= self.max_events:
            self._raise(ALARM_FULL)
        if self.depth:
            self.new_data.set()

    @property
    def alarms(self) -> frozenset[str]:
        return frozenset(self._alarms)

    @property
    def overflow(self) -> int:
        return len(self._overflow)

    # -- adding ---------------------------------------------------------------------------------------
    @property
    def room(self) -> int:
        """Rows the outbox can take before it holds `max_events`."""
        return self.max_events - self.depth - len(self._pending)

    async def put(self, message: Message) -> bool:
        """Commit one message; True once it is durable, False when it is not (alarm raised): then held in
        memory, or, for an event of the local log, left there for the reconciler."""
        if self._overflow or self.room <= 0 or (self._from_log(message) and self._storage_failing):
            if self.room <= 0:
                self._raise(ALARM_FULL)
            self._hold([message])
            return False
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((message, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="outbox-commit")
        return await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            ok = await self._commit([m for m, _ in batch])
            if not ok:
                # Keep the order: this batch, then everything queued behind it, goes to the overflow.
                rest, self._pending = self._pending, []
                self._hold([m for m, _ in batch] + [m for m, _ in rest])
                for _, done in batch + rest:
                    if not done.done():
                        done.set_result(False)
                return
            for _, done in batch:
                if not done.done():
                    done.set_result(True)

    async def add_now(self, messages: list[Message]) -> bool:
        """Commit `messages` now, whatever the room (the reconciler sizes its batches by `room`); False when
        storage refused them (alarm raised, nothing held)."""
        return await self._commit(messages)

    async def _commit(self, messages: list[Message]) -> bool:
        assert self._outbox is not None, "DurableQueue.open() first"
        try:
            added = await self._run(self._outbox.add, messages)
        except sqlite3.Error as exc:
            alarm = ALARM_DISK if is_disk_full(exc) else ALARM_STORAGE
            if alarm not in self._alarms:
                log.error("outbox: cannot commit to %s (%s); holding messages in memory", self.path, exc)
            self._raise(alarm)
            return False
        self._clear(ALARM_DISK, ALARM_STORAGE)
        if not added:
            return True
        if self.oldest_created is None:
            self.oldest_created = messages[0].created
        self.depth += len(added)
        self.new_data.set()
        return True

    @property
    def _storage_failing(self) -> bool:
        return bool(self._alarms.intersection((ALARM_DISK, ALARM_STORAGE)))

    def _from_log(self, message: Message) -> bool:
        return self.log_backed and message.event_seq is not None

    def _hold(self, messages: list[Message]) -> None:
        behind = [m for m in messages if self._from_log(m)]
        if behind and self._on_behind is not None:
            self._on_behind()
        for m in messages:
            if self._from_log(m):
                continue
            if len(self._overflow) >= OVERFLOW_MAX:
                self.dropped += 1
                log.error("outbox: full on disk and in memory; %s %s NOT queued for MQTT (still in the store's log)",
                          m.kind, m.ref)
                continue
            self._overflow.append(m)
        if self._overflow and (self._retrier is None or self._retrier.done()):
            self._retrier = asyncio.create_task(self._drain_overflow(), name="outbox-overflow")

    async def _drain_overflow(self) -> None:
        """Commit held messages, oldest first, whenever there is room and the disk accepts them."""
        while self._overflow:
            room = self.max_events - self.depth - len(self._pending)
            if room > 0 and not self._pending:
                batch = [self._overflow[i] for i in range(min(room, MAX_BATCH, len(self._overflow)))]
                if await self._commit(batch):
                    for _ in batch:
                        self._overflow.popleft()
                    continue
            await asyncio.sleep(RETRY_PERIOD_S)
        if self.depth < self.max_events:
            self._clear(ALARM_FULL)

    # -- reading and acknowledging ------------------------------------------------------------------
    async def read_after(self, seq: int, limit: int) -> list[Row]:
        assert self._outbox is not None
        return await self._run(self._outbox.after, seq, limit)

    def ack(self, seq: int) -> None:
        """The broker acknowledged `seq`: delete it (batched, off the loop)."""
        self._acked.append(seq)
        self.acked_unflushed.add(seq)
        self.published += 1
        if self._deleter is None or self._deleter.done():
            self._deleter = asyncio.create_task(self._delete(), name="outbox-delete")

    async def _delete(self) -> None:
        assert self._outbox is not None
        while self._acked:
            batch, self._acked = self._acked, []
            try:
                await self._run(self._outbox.delete, batch)
            except sqlite3.Error as exc:  # the rows stay and are sent again later: a duplicate, never a loss
                log.error("outbox: cannot delete acknowledged rows from %s: %s", self.path, exc)
                self.acked_unflushed.difference_update(batch)
                return
            self.acked_unflushed.difference_update(batch)
            self.depth = max(0, self.depth - len(batch))
            if self.depth == 0:
                self.oldest_created = None
            elif self.depth < self.max_events and not self._overflow:
                self._clear(ALARM_FULL)

    async def reject(self, seq: int, reason: str) -> None:
        """The broker refused `seq` (MQTT 5 reason code): keep it aside for the operator, raise the alarm."""
        assert self._outbox is not None
        try:
            moved = await self._run(self._outbox.reject, seq, reason)
        except sqlite3.Error as exc:
            log.error("outbox: cannot move refused row %d aside: %s", seq, exc)
            return
        if moved:
            self.rejected += 1
            self.depth = max(0, self.depth - 1)
            log.error("outbox: the broker refused message %d (%s); kept in %s table 'rejected'", seq, reason, self.path)
            self._raise(ALARM_REJECTED)

    async def event_cursor(self) -> Optional[EventCursor]:
        assert self._outbox is not None
        return await self._run(self._outbox.event_cursor)

    async def move_cursor(self, through: int) -> None:
        assert self._outbox is not None
        await self._run(self._outbox.move_cursor, through)

    async def skip_events(self, event_seqs: list[int]) -> None:
        assert self._outbox is not None
        await self._run(self._outbox.skip_events, event_seqs)

    async def refresh_oldest(self) -> None:
        assert self._outbox is not None
        self.oldest_created = await self._run(self._outbox.oldest_created)

    async def use_nonce(self, nonce_key: str, expires: float) -> bool:
        assert self._outbox is not None
        return await self._run(self._outbox.use_nonce, nonce_key, expires, time.time())

    async def fleet_versions(self) -> dict[str, tuple[int, str]]:
        assert self._outbox is not None
        return await self._run(self._outbox.fleet_versions)

    async def save_fleet_versions(self, versions: dict[str, tuple[int, str]]) -> None:
        assert self._outbox is not None
        await self._run(self._outbox.save_fleet_versions, versions)

    # -- alarms and shutdown ----------------------------------------------------------------------------
    def _raise(self, alarm: str) -> None:
        if alarm not in self._alarms:
            self._alarms.add(alarm)
            self._notify()

    def _clear(self, *alarms: str) -> None:
        if self._alarms.intersection(alarms):
            self._alarms.difference_update(alarms)
            self._notify()

    def _notify(self) -> None:
        if self._on_alarm is not None:
            try:
                self._on_alarm(frozenset(self._alarms))
            except Exception:
                log.exception("outbox: alarm callback failed")

    async def close(self) -> None:
        """Finish pending commits and deletes, then close the file. Held overflow is logged (not durable)."""
        for task in (self._flusher, self._deleter):
            if task is not None and not task.done():
                await task
        if self._retrier is not None:
            self._retrier.cancel()
        if self._overflow:
            log.error("outbox: %d messages held in memory could not be committed before stop: %s", len(self._overflow),
                      ", ".join(str(m.ref) for m in list(self._overflow)[:20]))
        if self._outbox is not None:
            await self._run(self._outbox.close)
            self._outbox = None
        self._executor.shutdown(wait=True)
