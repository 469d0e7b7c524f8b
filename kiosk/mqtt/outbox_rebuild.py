"""A damaged outbox is set aside and a new one started; the local event log fills it again.

The outbox is derived data: every event in it is also in the local event log (the store keeps
an event before it is handed to MQTT). So a file SQLite cannot read, or that fails
`PRAGMA quick_check`, does not stop the kiosk: it is renamed to `outbox.db.damaged-<UTC time>`
(kept for inspection), a warning is logged, and a new, empty outbox is opened. Its event cursor is
new, so kiosk/mqtt/reconcile.py fills it from the signed events of the last REBUILD_DAYS, oldest
first. Which of them the broker already had is unknown, so some are sent again: delivery is at
least once and consumers de-duplicate by `event_id` (or `seq`). Lost with the file: the
broker-rejected messages, the record of used command nonces (so commands issued before the rebuild
are refused as possible replays) and the noted fleet versions (reconciliation publishes the records
again).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Optional

from ..runtime.files import set_aside
from .outbox import Message, Outbox, OutboxDamaged
from .topics import Topics

log = logging.getLogger("kiosk.mqtt")

REBUILD_DAYS = 7


def open_or_rebuild(path: Path, max_page_count: Optional[int], rebuild: bool) -> tuple[Outbox, bool]:
    """The outbox at `path`, and whether it was rebuilt; without `rebuild` a damaged file raises OutboxDamaged."""
    try:
        return Outbox(path, max_page_count), False
    except OutboxDamaged as exc:
        if not rebuild:
            raise
        aside = set_aside(path, ("-wal", "-shm"))
        box = Outbox(path, max_page_count)
        log.warning("mqtt: %s; set aside as %s, a new outbox is filled from the local event log (signed events of "
                    "the last %d days; some may be sent twice)", exc, aside.name, REBUILD_DAYS)
        return box, True


def event_message(topics: Topics, event: dict[str, Any]) -> Message:
    """The outbox row of a signed event: `<prefix>/<device>/events/<type>`, QoS 1, not retained."""
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    seq = event.get("seq")
    return Message(topics.event(event["type"]), payload, 1, False, "event", event["event_id"], time.time(),
                   seq if type(seq) is int else None)
