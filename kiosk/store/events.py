"""The local event log: signed event dicts (docs/contracts.md section 1), stored as they were signed."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

import sqlite_utils

from .clock import normalise_iso, to_utc_iso, utc_now
from .errors import RecordError

EVENT_TYPES = ("attendance", "access_granted", "access_denied", "fever_alert", "spoof_attempt", "unknown_face",
               "door_held_open", "door_forced_open", "gate_opened", "alarm")


def check_event(event: Mapping[str, Any]) -> None:
    """RecordError naming the first field that breaks the event contract."""
    if event.get("type") not in EVENT_TYPES:
        raise RecordError(f"event type {event.get('type')!r} is not one of {', '.join(EVENT_TYPES)}")
    event_id = event.get("event_id")
    if not (isinstance(event_id, str) and len(event_id) == 32 and all(c in "0123456789abcdef" for c in event_id)):
        raise RecordError(f"event_id {event_id!r} is not a 32-char uuid4 hex string")
    if not isinstance(event.get("device_id"), str) or not event["device_id"]:
        raise RecordError("event has no device_id")
    try:
        normalise_iso(str(event.get("device_time")))
    except ValueError as exc:
        raise RecordError(f"event device_time: {exc}") from None
    person = event.get("person")
    if person is not None and not (isinstance(person, Mapping) and isinstance(person.get("person_id"), str)):
        raise RecordError("event person must be null or an object with a person_id")


def insert(db: sqlite_utils.Database, event: Mapping[str, Any]) -> bool:
    """Store a signed event; False when an event with this id is already stored (idempotent)."""
    person = event.get("person") or {}
    cursor = db.execute(
        "INSERT OR IGNORE INTO events (event_id, type, device_time, time_utc, person_id, stored_at, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [event["event_id"], event["type"], event["device_time"], normalise_iso(event["device_time"]),
         person.get("person_id"), to_utc_iso(utc_now()), json.dumps(event, ensure_ascii=False)])
    return cursor.rowcount == 1


def select(db: sqlite_utils.Database, *, since: Optional[str] = None, until: Optional[str] = None,
           types: Optional[list[str]] = None, person_id: Optional[str] = None,
           limit: Optional[int] = None) -> list[dict[str, Any]]:
    """Stored events (as signed), oldest first, with since <= device time (UTC) < until."""
    where, params = [], []
    if since:
        where.append("time_utc >= ?")
        params.append(normalise_iso(since))
    if until:
        where.append("time_utc < ?")
        params.append(normalise_iso(until))
    if types:
        where.append(f"type IN ({', '.join('?' * len(types))})")
        params.extend(types)
    if person_id:
        where.append("person_id = ?")
        params.append(person_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    if limit:   # the newest `limit` events, still returned oldest first
        sql = f"SELECT body FROM events {clause} ORDER BY time_utc DESC, seq DESC LIMIT {int(limit)}"
        return [json.loads(r[0]) for r in reversed(db.execute(sql, params).fetchall())]
    sql = f"SELECT body FROM events {clause} ORDER BY time_utc, seq"
    return [json.loads(r[0]) for r in db.execute(sql, params).fetchall()]
