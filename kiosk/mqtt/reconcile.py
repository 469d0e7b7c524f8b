"""The outbox follows the local event log by sequence number: no event of the log is left behind.

The daemon commits every event to the store's log first (one transaction per event, numbered by
`seq`), then hands it to the outbox (a second database). A kill -9 between the two commits, an
outbox at its limit or a disk that refuses the outbox's write would leave an event in the log that
never reaches MQTT. The reconciler closes that gap: at every start, and whenever a hand-over did
not happen, it reads the log after the outbox's event cursor (kiosk/mqtt/outbox.py) and commits
the events the outbox has not taken, oldest first, as far as there is room. While it is behind,
new events wait for it (the fast path in MqttService.publish_event stands aside), so the broker
receives them in `seq` order.

Where the cursor starts: a new outbox takes the log's events of the last REBUILD_DAYS; one from
before cursors existed starts at the log's end (its own rows are what it had). Numbers the log no
longer has (purged by retention before they were taken) or whose event fails its signature check are
skipped with a warning.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

from .durable import DurableQueue
from .outbox_rebuild import REBUILD_DAYS, event_message
from .topics import Topics

log = logging.getLogger("kiosk.mqtt")

BATCH = 500
RETRY_S = 1.0


InStore = Callable[..., Awaitable[Any]]    # runs a store method on the store's thread


class EventReconciler:
    def __init__(self, queue: DurableQueue, store: Any, in_store: InStore, topics: Topics) -> None:
        """`store`: a kiosk.store.Store (outbox_page, last_event_seq, first_event_seq_since), called through
        `in_store` so that SQLite stays on its thread."""
        self.queue = queue
        self.store = store
        self.in_store = in_store
        self.topics = topics
        self.behind = True                   # until the first catch-up has run
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """An event was not handed over (or may not have been): catch up."""
        self.behind = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:
                log.exception("mqtt: reading the local event log for the outbox failed; retrying")
                self.behind = True
            try:
                await asyncio.wait_for(self._wake.wait(), RETRY_S if self.behind else None)
            except TimeoutError:
                pass

    async def catch_up(self) -> None:
        """Commit the log's events after the cursor that the outbox lacks, while there is room."""
        start = await self._start()
        while True:
            room = self.queue.room
            if room <= 0:
                self.behind = True
                return
            page = await self.in_store(self.store.outbox_page, start, min(room, BATCH))
            if page["through"] is None:
                self.behind = False
                return
            events = page["events"]
            if events and not await self.queue.add_now([event_message(self.topics, e) for e in events]):
                self.behind = True           # storage refused: the alarm is raised; try again later
                return
            missing = sorted(set(range(start, page["through"] + 1)) - {e["seq"] for e in events})
            if missing:
                log.warning("mqtt: %d events (seq %d..%d) are not in the local log or fail their signature check "
                            "(purged by retention, or altered); skipped", len(missing), missing[0], missing[-1])
                await self.queue.skip_events(missing)
            start = page["through"] + 1

    async def _start(self) -> int:
        """The first log seq to look at; a cursor is set up first if the outbox has none."""
        cursor = await self.queue.event_cursor()
        if cursor is not None and cursor.through is not None:
            return cursor.through + 1
        if cursor is None:
            since = (datetime.now(UTC) - timedelta(days=REBUILD_DAYS)).isoformat()
            first: Optional[int] = await self.in_store(self.store.first_event_seq_since, since)
            through = (first - 1) if first is not None else await self.in_store(self.store.last_event_seq)
        else:
            through = await self.in_store(self.store.last_event_seq)
        await self.queue.move_cursor(through)
        return through + 1
