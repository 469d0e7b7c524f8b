"""The local event log: signed event dicts (docs/contracts.md section 1), stored as they were signed."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

import sqlite_utils

from ..event_model import event_problem
from .clock import normalise_iso, to_utc_iso, utc_now
from .errors import RecordError


def check_event(event: Mapping[str, Any]) -> None:
    """RecordError naming the first field that breaks the event contract (kiosk/event_model.py); the
    signature may be missing (the store signs)."""
    problem = event_problem(dict(event), signed=False)
    if problem:
        raise RecordError(problem)


def stored(db: sqlite_utils.Database, event_id: str) -> Optional[dict[str, Any]]:
    """The stored event with this id, or None."""
    row = db.execute("SELECT body FROM events WHERE event_id = ?", [event_id]).fetchone()
    return json.loads(row[0]) if row else None


def next_seq(db: sqlite_utils.Database) -> int:
    """Claim the next per-device sequence number (call inside the write transaction that stores the event).

    Numbers are never reused: the last one is kept in `meta`, which no purge touches."""
    seq = last_seq(db) + 1
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('event_seq', ?)", [seq])
    return seq


def last_seq(db: sqlite_utils.Database) -> int:
    """The last sequence number assigned (0 before the first event)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'event_seq'").fetchone()
    highest = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    return max(int(row[0]) if row else 0, int(highest))


def from_seq(db: sqlite_utils.Database, seq: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """(seq, signed event) of up to `limit` stored events with a sequence number >= `seq`, in sequence order."""
    rows = db.execute("SELECT seq, body FROM events WHERE seq >= ? ORDER BY seq LIMIT ?", [seq, limit]).fetchall()
    return [(int(s), json.loads(body)) for s, body in rows]


def first_seq(db: sqlite_utils.Database) -> Optional[int]:
    """The lowest sequence number still in the log (older ones were purged by retention), or None when empty."""
    row = db.execute("SELECT MIN(seq) FROM events").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def insert(db: sqlite_utils.Database, event: Mapping[str, Any], seq: Optional[int] = None) -> bool:
    """Store a signed event as row `seq` (None: the next row number); False when an event with this id is
    already stored (idempotent). `person_id` indexes the identified person only, never a candidate."""
    person = event.get("person") or {}
    cursor = db.execute(
        "INSERT OR IGNORE INTO events (seq, event_id, type, device_time, time_utc, person_id, stored_at, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, event["event_id"], event["type"], event["device_time"], normalise_iso(event["device_time"]),
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
