"""The SQLite file: one connection per thread, WAL, explicit write transactions.

Thread rule: every thread that touches the store gets its own `sqlite3` connection (kept in a
`threading.local`), so the daemon's worker threads never share one; the event loop thread must
not call the store at all (use `loop.run_in_executor`). Writers take SQLite's write lock up front
(`BEGIN IMMEDIATE`), so concurrent writers, in this process or another (the CLI next to the
daemon), queue on `busy_timeout` instead of failing half-way, and the audit chain is appended
under that lock.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import sqlite_utils

from .errors import StoreError
from .schema import AfterStep, migrate

BUSY_TIMEOUT_MS = 10_000


class Database:
    def __init__(self, path: Path, after_step: Optional[AfterStep] = None) -> None:
        """Open (creating) the file and apply missing migrations; `after_step` as for `schema.migrate`."""
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():   # names and consent are personal data: owner-only (WAL/SHM inherit it)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot create {self.path.parent}: {exc.strerror or exc}") from None
        db = self.db()
        try:
            self._check("quick_check")
            db.enable_wal()
            migrate(db, after_step)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"{self.path}: not a usable kiosk database ({exc})") from None
        except StoreError:
            self.close()
            raise

    def db(self) -> sqlite_utils.Database:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise StoreError("the store is closed")
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                # check_same_thread=False only so close() can run from any thread; use stays per-thread.
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
                for pragma in (f"busy_timeout = {BUSY_TIMEOUT_MS}", "foreign_keys = ON", "secure_delete = ON",
                               "synchronous = FULL"):
                    conn.execute(f"PRAGMA {pragma}")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open the database: {exc}") from None
            db = sqlite_utils.Database(conn, execute_plugins=False)
            self._local.db = db
            with self._all_lock:
                self._all.append(conn)
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction holding the database write lock from its start."""
        db = self.db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.execute("COMMIT")

    def _check(self, pragma: str) -> None:
        """StoreError naming the first problem `PRAGMA quick_check` or `integrity_check` finds."""
        try:
            rows = [str(row[0]) for row in self.db().execute(f"PRAGMA {pragma}").fetchall()]
        except sqlite3.DatabaseError as exc:     # "database disk image is malformed"
            rows = [str(exc)]
        if rows != ["ok"]:
            more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
            raise StoreError(f"{self.path} is damaged ({pragma}: {rows[0]}{more}): restore it from a backup "
                             f"(`kiosk restore --force ARCHIVE`, daemon stopped; `sqlite3 {self.path.name} .recover` "
                             "may save what is left)")

    def check_writable(self) -> None:
        """StoreError unless a write commits. SQLite opens a file it may not write (read-only mount, immutable
        or foreign-owned file) read-only without a word; the daemon must not start deciding on such a store."""
        try:
            with self.write() as db:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('write_check', ?)", [os.getpid()])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot be written ({exc}); check that the file system is mounted "
                             "read-write, has space, and that the file is not immutable (lsattr)") from None

    def integrity_check(self) -> None:
        """The full check (every page, every index against its table); slower than the quick check at open."""
        self._check("integrity_check")

    def checkpoint(self) -> None:
        """Fold the WAL back into the file and truncate it (so erased pages do not linger in the WAL)."""
        self.db().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close every thread's connection; call once, when no thread uses the store any more."""
        self._closed = True
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
