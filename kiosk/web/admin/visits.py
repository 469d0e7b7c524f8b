"""Visitor registrations (host, purpose) and one-time self-enrollment links, in admin.db beside the accounts.

The visitor is a person of the store (role visitor, valid_from/valid_to: the same checks, expiry and
retention as any visitor); this book only adds what the store has no field for, keyed by person id,
and forgets it once the person is gone (erased by retention or by hand). A link is a random 256-bit
token of which only the SHA-256 is kept; it expires, is used once (by a successful enrollment), and
allows a few attempts.
"""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    person_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    purpose TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    registered REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS enroll_links (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires REAL NOT NULL,
    used REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
"""
MAX_ATTEMPTS = 5
MAX_TEXT = 200


@dataclass(frozen=True)
class Visit:
    person_id: str
    host: str
    purpose: str
    registered_by: str


@dataclass(frozen=True)
class Link:
    token_hash: str
    person_id: str
    created_by: str
    expires: float
    used: Optional[float]
    attempts: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class VisitBook:
    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = Path(path)
        self.clock = clock
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=5.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def register(self, person_id: str, host: str, purpose: str, by: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO visits VALUES (?, ?, ?, ?, ?)",
                       [person_id, host[:MAX_TEXT], purpose[:MAX_TEXT], by, self.clock()])

    def visits(self, live: Iterable[str]) -> dict[str, Visit]:
        """The registrations of the persons still live; those of the others are deleted (with their links)."""
        keep = set(live)
        with self._db() as db:
            rows = db.execute("SELECT person_id, host, purpose, registered_by FROM visits").fetchall()
            gone = [r[0] for r in rows if r[0] not in keep]
            db.executemany("DELETE FROM visits WHERE person_id = ?", [[p] for p in gone])
            db.executemany("DELETE FROM enroll_links WHERE person_id = ?", [[p] for p in gone])
            db.execute("DELETE FROM enroll_links WHERE expires <= ?", [self.clock()])
        return {r[0]: Visit(*r) for r in rows if r[0] in keep}

    def new_link(self, person_id: str, by: str, lifetime_s: float) -> tuple[str, float]:
        """A fresh link (token, expiry); the person's earlier unused links stop working."""
        token = secrets.token_urlsafe(32)
        expires = self.clock() + lifetime_s
        with self._db() as db:
            db.execute("DELETE FROM enroll_links WHERE person_id = ? AND used IS NULL", [person_id])
            db.execute("INSERT INTO enroll_links (token_hash, person_id, created_by, expires) VALUES (?, ?, ?, ?)",
                       [_hash(token), person_id, by, expires])
        return token, expires

    def link(self, token: str) -> Optional[Link]:
        """The link of a token while it can be used (not expired, not used, attempts left)."""
        if not token or len(token) > 128:
            return None
        with self._db() as db:
            row = db.execute("SELECT token_hash, person_id, created_by, expires, used, attempts FROM enroll_links "
                             "WHERE token_hash = ?", [_hash(token)]).fetchone()
        if row is None:
            return None
        link = Link(*row)
        if link.used is not None or link.expires <= self.clock() or link.attempts >= MAX_ATTEMPTS:
            return None
        return link

    def links_of(self, person_id: str) -> list[Link]:
        with self._db() as db:
            rows = db.execute("SELECT token_hash, person_id, created_by, expires, used, attempts FROM enroll_links "
                              "WHERE person_id = ? ORDER BY expires DESC", [person_id]).fetchall()
        return [Link(*r) for r in rows]

    def claim(self, link: Link) -> bool:
        """Take the link for one upload; False when another took it meanwhile (two uploads at once: one goes on)."""
        with self._db() as db:
            changed = db.execute("UPDATE enroll_links SET used = ?, attempts = attempts + 1 "
                                 "WHERE token_hash = ? AND used IS NULL", [self.clock(), link.token_hash]).rowcount
        return changed == 1

    def release(self, link: Link) -> None:
        """The upload was refused: the link may be tried again (while attempts are left)."""
        with self._db() as db:
            db.execute("UPDATE enroll_links SET used = NULL WHERE token_hash = ?", [link.token_hash])
