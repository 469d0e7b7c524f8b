"""The outbox file (`<state_dir>/outbox.db`): messages committed before they are published.

Plain `sqlite3`, WAL, `synchronous = FULL` (a committed message survives a power cut, not only a
crash). The object is confined to one thread (the durable queue's writer thread); the event
loop never touches it. Rows are numbered by an AUTOINCREMENT `seq`, which is the publish order.

The event cursor records which events of the store's local log (by their own `seq`) the outbox has
taken, in the same transaction as their rows: `through` (every event seq up to it is taken) plus
the taken numbers above it. That is what lets kiosk/mqtt/reconcile.py fill the outbox with exactly
the events it lacks, after a crash between the two commits, a full outbox or a failing disk.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,          -- 'event' or 'fleet'
    ref TEXT,                    -- event_id or person_id, for logs and operators
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT,
    created REAL NOT NULL,
    rejected_at REAL NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS command_nonces (
    nonce_key TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS event_cursor (    -- no row: a new outbox; through NULL: one from before cursors
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER                           -- every local-log event seq <= through is taken
);
CREATE TABLE IF NOT EXISTS events_taken (    -- event seqs above `through` that are taken
    event_seq INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS fleet_versions (  -- per person: the newest version published or applied
    person_id TEXT PRIMARY KEY,
    counter INTEGER NOT NULL,
    device TEXT NOT NULL
);
"""


class OutboxError(Exception):
    """The outbox file cannot be opened or written (message names the file and the cause)."""


class OutboxDamaged(OutboxError):
    """The file is not an SQLite database, or `PRAGMA quick_check` finds it damaged (see outbox_rebuild.py)."""


_DAMAGE_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str
    ref: Optional[str]
    created: float
    event_seq: Optional[int] = None     # an event's number in the local log (the event cursor)


@dataclass(frozen=True)
class EventCursor:
    through: Optional[int]              # None: the outbox predates cursors (start at the log's end)


@dataclass(frozen=True)
class Row:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


def is_disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc).lower()


class Outbox:
    def __init__(self, path: Path, max_page_count: Optional[int] = None) -> None:
        """Open (and create) the outbox. `max_page_count` caps the file size in pages (SQLite's limit)."""
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            problem = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                self._db.close()
                raise OutboxDamaged(f"{self.path}: damaged (quick_check: {problem})")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA journal_size_limit = 8388608")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(f"{self.path}: schema version {version} is newer than this software ({SCHEMA_VERSION})")
            self._db.executescript(_SCHEMA)
            if version == 1:   # its events were queued without a cursor: the cursor starts at the log's end
                self._db.execute("INSERT OR IGNORE INTO event_cursor (id, through) VALUES (1, NULL)")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if max_page_count is not None:
                self._db.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _DAMAGE_CODES:
                if hasattr(self, "_db"):
                    self._db.close()
                raise OutboxDamaged(f"{self.path}: damaged ({exc})") from None
            raise OutboxError(f"{self.path}: cannot open the outbox: {exc}") from None
        except OSError as exc:
            raise OutboxError(f"{self.path}: cannot create the outbox: {exc.strerror or exc}") from None

    def add(self, messages: list[Message]) -> list[int]:
        """Commit `messages` in one transaction; return the seqs of the rows added (raises sqlite3.Error,
        nothing committed). An event the cursor says was taken already is skipped: never queued twice."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            seqs = []
            for m in messages:
                if m.event_seq is not None and not self._take(cur, m.event_seq):
                    continue
                cur.execute("INSERT INTO outbox (topic, payload, qos, retain, kind, ref, created) VALUES (?,?,?,?,?,?,?)",
                            (m.topic, m.payload, m.qos, int(m.retain), m.kind, m.ref, m.created))
                assert cur.lastrowid is not None  # always set by an INSERT
                seqs.append(cur.lastrowid)
            self._advance_cursor(cur)
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return seqs

    def _take(self, cur: sqlite3.Cursor, event_seq: int) -> bool:
        row = cur.execute("SELECT through FROM event_cursor WHERE id = 1").fetchone()
        if row is not None and row[0] is not None and event_seq <= row[0]:
            return False
        cur.execute("INSERT OR IGNORE INTO events_taken (event_seq) VALUES (?)", (event_seq,))
        return cur.rowcount == 1

    def _advance_cursor(self, cur: sqlite3.Cursor) -> None:
        """Fold the taken numbers that follow `through` without a gap into it (the table stays small)."""
        row = cur.execute("SELECT through FROM event_cursor WHERE id = 1").fetchone()
        if row is None or row[0] is None:
            return
        through = row[0]
        taken = [s for (s,) in cur.execute("SELECT event_seq FROM events_taken WHERE event_seq > ? ORDER BY event_seq",
                                           (through,))]
        for event_seq in taken:
            if event_seq != through + 1:
                break
            through = event_seq
        if through != row[0]:
            cur.execute("UPDATE event_cursor SET through = ? WHERE id = 1", (through,))
            cur.execute("DELETE FROM events_taken WHERE event_seq <= ?", (through,))

    def event_cursor(self) -> Optional[EventCursor]:
        """None for a new outbox (nothing taken yet)."""
        row = self._db.execute("SELECT through FROM event_cursor WHERE id = 1").fetchone()
        return None if row is None else EventCursor(row[0])

    def move_cursor(self, through: int) -> None:
        """Set `through` (a new cursor, or past numbers the log no longer has); it never moves back."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            row = cur.execute("SELECT through FROM event_cursor WHERE id = 1").fetchone()
            if row is None or row[0] is None or through > row[0]:
                cur.execute("INSERT OR REPLACE INTO event_cursor (id, through) VALUES (1, ?)", (through,))
                cur.execute("DELETE FROM events_taken WHERE event_seq <= ?", (through,))
                self._advance_cursor(cur)
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def skip_events(self, event_seqs: list[int]) -> None:
        """Mark numbers the log does not have as taken, so that the cursor moves past them."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for event_seq in event_seqs:
                self._take(cur, event_seq)
            self._advance_cursor(cur)
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def after(self, seq: int, limit: int) -> list[Row]:
        """The oldest `limit` rows with a seq greater than `seq`, in seq order."""
        rows = self._db.execute("SELECT seq, topic, payload, qos, retain FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                (seq, limit)).fetchall()
        return [Row(s, t, bytes(p), q, bool(r)) for s, t, p, q, r in rows]

    def delete(self, seqs: list[int]) -> None:
        """Remove acknowledged rows.

        Committed without its own fsync (synchronous = NORMAL for this transaction): the next FULL
        commit syncs the WAL with it, and a delete lost to a power cut only means a duplicate later.
        """
        cur = self._db.cursor()
        cur.execute("PRAGMA synchronous = NORMAL")
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
                cur.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        finally:
            cur.execute("PRAGMA synchronous = FULL")

    def reject(self, seq: int, reason: str) -> bool:
        """Move a row the broker refused to the `rejected` table (kept for the operator); False if gone."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute("INSERT OR REPLACE INTO rejected SELECT seq, topic, payload, qos, retain, kind, ref, created, ?, ? "
                        "FROM outbox WHERE seq = ?", (time.time(), reason, seq))
            moved = cur.rowcount > 0
            cur.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return moved

    def depth(self) -> int:
        return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def oldest_created(self) -> Optional[float]:
        row = self._db.execute("SELECT created FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return row[0] if row else None

    def rejected_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM rejected").fetchone()[0]

    def use_nonce(self, nonce_key: str, expires: float, now: float) -> bool:
        """Record a command nonce until `expires`; False when it was already used (a replay)."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute("DELETE FROM command_nonces WHERE expires < ?", (now,))
            cur.execute("INSERT OR IGNORE INTO command_nonces (nonce_key, expires) VALUES (?, ?)", (nonce_key, expires))
            fresh = cur.rowcount == 1
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return fresh

    def fleet_versions(self) -> dict[str, tuple[int, str]]:
        return {p: (c, d) for p, c, d in self._db.execute("SELECT person_id, counter, device FROM fleet_versions")}

    def save_fleet_versions(self, versions: dict[str, tuple[int, str]]) -> None:
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany("INSERT OR REPLACE INTO fleet_versions (person_id, counter, device) VALUES (?, ?, ?)",
                            [(p, c, d) for p, (c, d) in versions.items()])
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def close(self) -> None:
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._db.close()

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
