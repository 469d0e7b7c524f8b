"""The state marker `<database>.state.json` (kiosk.db -> kiosk.state.json): a database that was in use.

SQLite creates a missing database without a word, so a deleted or emptied `kiosk.db` used to come
back empty: events and audit records gone, and nothing said so. The marker is a small JSON file
next to the database, written (fsync, rename) when the database is first opened, holding a random
id that is also stored in the database's `meta` table. At every open:

- a missing, zero-length or table-less database is refused while the marker, or a signed audit
  head naming a record, exists;
- a database whose id differs from the marker's (another kiosk's file, a fresh one) is refused;
- a database with tables but no id (from before the marker existed, or restored from such a
  backup) takes the marker's id; a database without a marker gets one.

The fix is `kiosk restore` (which points the marker at the restored database, `adopt`); the
override is deliberate and explicit: move the marker (and the audit head) away, and the next
open starts an empty database. The marker is not signed: it stops accidents, the signed audit
head stops deliberate deletion.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ..runtime.files import write_atomic
from .audit_head import HeadFile, HeadFileError
from .clock import to_utc_iso, utc_now
from .database import Database
from .errors import StoreError

MARKER_SUFFIX = ".state.json"
_META_KEY = "database_id"


def marker_path(database: Path) -> Path:
    return Path(database).with_suffix(MARKER_SUFFIX)


@dataclass(frozen=True)
class Marker:
    database: str       # the database's file name, for people
    database_id: str    # the id in the database's meta table
    created: str        # when the marker was written (UTC)


def emptiness(database: Path) -> Optional[str]:
    """How the database file is empty ("missing", "empty (0 bytes)", "without tables"), or None when it
    has tables (or is not SQLite at all: opening it says so)."""
    try:
        if database.stat().st_size == 0:
            return "empty (0 bytes)"
    except FileNotFoundError:
        return "missing"
    try:
        conn = sqlite3.connect(database)
        try:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if tables else "without tables"


class StateMarker:
    def __init__(self, database: Path, head: HeadFile) -> None:
        self.database = Path(database)
        self.path = marker_path(database)
        self._head = head

    def read(self) -> Optional[Marker]:
        """The marker, None when there is none; StoreError when it is not a marker."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Marker(str(data["database"]), str(data["database_id"]), str(data["created"]))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self.path}: not a state marker ({type(exc).__name__}: {exc}); restore it from a "
                             f"backup copy, or move it away if {self.database.name} is the right database") from None

    def check_before_open(self) -> Optional[Marker]:
        """Refuse an empty database that was in use; return the marker (None: there is none yet)."""
        marker = self.read()
        state = emptiness(self.database)
        if state is None:
            return marker
        evidence, files = [], []
        if marker is not None:
            evidence.append(f"{self.path.name} says it was created {marker.created}")
            files.append(str(self.path))
        head = self._head_evidence()
        if head:
            evidence.append(head)
            files.append(str(self._head.path))
        if evidence:
            raise StoreError(f"{self.database} is {state}, but {' and '.join(evidence)}: restore it from a backup "
                             f"(`kiosk restore --force ARCHIVE`, daemon stopped), or, to start an empty database "
                             f"deliberately, move {' and '.join(files)} away")
        return marker

    def _head_evidence(self) -> Optional[str]:
        try:
            head = self._head.read()
        except HeadFileError:
            return f"the audit head {self._head.path.name} exists"
        if head is not None and head.seq > 0:
            return f"the signed audit head names record #{head.seq}"
        return None

    def bind(self, database: Database, marker: Optional[Marker]) -> None:
        """After the migrations: match the database's id with the marker, or write the marker."""
        db = database.db()
        found = _database_id(db)
        if found is None:
            with database.write() as w:
                w.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                          [_META_KEY, (marker.database_id if marker else uuid.uuid4().hex).encode("ascii")])
            found = _database_id(db)
            assert found is not None
        if marker is None:
            _write(self.database, found)
        elif marker.database_id != found:
            raise StoreError(f"{self.database} is not the database {self.path.name} was written for (id {found} "
                             f"instead of {marker.database_id}): put that database back, or move {self.path} away "
                             "to adopt this one")


def adopt(database: Path) -> None:
    """Point the marker at `database` as it is now, replacing any marker (`kiosk restore`: the restored file
    is the database in use from now on). The database has its id: the restore checks opened it as a store."""
    conn = sqlite3.connect(database)
    try:
        found = _database_id(conn)
    finally:
        conn.close()
    if found is None:
        marker_path(database).unlink(missing_ok=True)     # the next open writes one
    else:
        _write(database, found)


def _write(database: Path, database_id: str) -> None:
    marker = Marker(Path(database).name, database_id, to_utc_iso(utc_now()))
    write_atomic(marker_path(database), (json.dumps(asdict(marker), indent=2) + "\n").encode("utf-8"))


def _database_id(db) -> Optional[str]:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [_META_KEY]).fetchone()
    if row is None:
        return None
    return row[0].decode("ascii") if isinstance(row[0], bytes) else str(row[0])
