"""Moves committed outbox rows to the broker, in seq order, with a bounded window in flight.

One `run()` per connection. It starts from the oldest row still in the outbox, so after a
reconnect (or a restart after a crash) everything the broker did not acknowledge goes out
again, in the original order; rows already acknowledged but not yet deleted are skipped.
A row is deleted only after its PUBACK. A PUBACK with an MQTT 5 failure reason moves the row
aside (`rejected` table, alarm) instead of blocking the queue forever.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from paho.mqtt.reasoncodes import ReasonCode

from .connection import Connection
from .durable import DurableQueue
from .outbox import Row

log = logging.getLogger("kiosk.mqtt")

READ_BATCH = 500


class Publisher:
    def __init__(self, queue: DurableQueue, window: int) -> None:
        self._queue = queue
        self._window = window
        self._inflight: dict[int, int] = {}     # mid -> seq, for the current connection
        self._room = asyncio.Event()
        self._rejections: set[asyncio.Task[None]] = set()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run(self, conn: Connection) -> None:
        """Publish until the connection closes (returns) or the task is cancelled."""
        self._inflight.clear()
        cursor = 0
        buffer: deque[Row] = deque()
        closed = asyncio.ensure_future(conn.closed.wait())
        try:
            while conn.connected:
                if len(self._inflight) >= self._window:
                    self._room.clear()
                    await self._wait(self._room, closed)
                    continue
                if not buffer:
                    self._queue.new_data.clear()
                    rows = await self._queue.read_after(cursor, READ_BATCH)
                    if rows:
                        cursor = rows[-1].seq
                        buffer.extend(r for r in rows if r.seq not in self._queue.acked_unflushed)
                        continue
                    await self._wait(self._queue.new_data, closed)
                    continue
                while buffer and len(self._inflight) < self._window and conn.connected:
                    row = buffer.popleft()
                    mid = conn.publish(row.topic, row.payload, row.qos, row.retain, self._acked)
                    self._inflight[mid] = row.seq
        finally:
            closed.cancel()   # _inflight stays: acknowledgements may still arrive while the service stops

    @staticmethod
    async def _wait(event: asyncio.Event, closed: asyncio.Future[Any]) -> None:
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({waiter, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    def _acked(self, mid: int, reason: ReasonCode) -> None:
        seq = self._inflight.pop(mid, None)
        self._room.set()
        if seq is None:
            return
        if reason.is_failure:
            task = asyncio.get_running_loop().create_task(self._queue.reject(seq, str(reason)))
            self._rejections.add(task)
            task.add_done_callback(self._rejections.discard)
        else:
            self._queue.ack(seq)
