"""A damaged outbox is set aside and a new one started from the store's signed event log.

The outbox is derived data: every event in it is also in the local event log (the store keeps
an event before it is handed to MQTT). So a file SQLite cannot read, or that fails
`PRAGMA quick_check`, does not stop the kiosk: it is renamed to `outbox.db.damaged-<UTC time>`
(kept for inspection), a warning is logged, and the new outbox is filled with the events of the
last REBUILD_DAYS that verify under the device key (at most `mqtt.outbox_max_events`, the newest).
Which of them the broker already had is unknown, so some are sent again: delivery is at least once
and consumers de-duplicate by `event_id`. Lost with the file: the broker-rejected messages, the
record of used command nonces (so commands issued before the rebuild are refused as possible
replays) and the noted fleet versions (reconciliation publishes the records again).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Optional

from ..runtime.files import set_aside
from .outbox import Message, Outbox, OutboxDamaged
from .topics import Topics

log = logging.getLogger("kiosk.mqtt")

REBUILD_DAYS = 7
BATCH = 1000

Recover = Callable[[], list[Message]]


def open_or_rebuild(path: Path, max_page_count: Optional[int], recover: Optional[Recover]) -> tuple[Outbox, bool]:
    """The outbox at `path`, and whether it was rebuilt; without `recover` a damaged file raises OutboxDamaged."""
    try:
        return Outbox(path, max_page_count), False
    except OutboxDamaged as exc:
        if recover is None:
            raise
        aside = set_aside(path, ("-wal", "-shm"))
        box = Outbox(path, max_page_count)
        messages = recover()
        for start in range(0, len(messages), BATCH):
            box.add(messages[start:start + BATCH])
        log.warning("mqtt: %s; set aside as %s, new outbox filled with %d signed events of the last %d days from the "
                    "local event log (some may be sent twice)", exc, aside.name, len(messages), REBUILD_DAYS)
        return box, True


def event_message(topics: Topics, event: dict[str, Any]) -> Message:
    """The outbox row of a signed event: `<prefix>/<device>/events/<type>`, QoS 1, not retained."""
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Message(topics.event(event["type"]), payload, 1, False, "event", event["event_id"], time.time())


def from_event_log(store: Any, topics: Topics, max_events: int) -> Recover:
    """Recovery from `store` (a kiosk.store.Store): its signed events of the last REBUILD_DAYS."""
    def recover() -> list[Message]:
        since = (datetime.now(UTC) - timedelta(days=REBUILD_DAYS)).isoformat()
        return [event_message(topics, event) for event in store.signed_events(since=since, limit=max_events)]
    return recover
