"""Console accounts and their server-side sessions, in <state_dir>/admin.db (SQLite, owner-only).

Apart from kiosk.db so that a backup restored to another kiosk does not carry the console's logins,
and so that the CLI can add the first account before the daemon has ever run. Sessions are rows
too: a daemon restart (or a reload) keeps people logged in, and removing an account ends its
sessions at once (ON DELETE CASCADE). Only a SHA-256 of each session token is stored: a copy of
the file does not give a usable cookie.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Optional

from .passwords import check_strength, dummy_hash, hash_password, verify_password

FILE_NAME = "admin.db"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
TOKEN_BYTES = 32

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
"""


class Role(StrEnum):
    """auditor reads everything and changes nothing; hr manages people, visitors and attendance; admin all."""
    admin = "admin"
    hr = "hr"
    auditor = "auditor"


class AccountError(ValueError):
    """A bad account name, an unknown or duplicate account, a weak password: one line."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    created: float


@dataclass(frozen=True)
class Session:
    account: Account
    csrf: str
    expires: float


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(f"'{name}' is not an account name: 1-32 of a-z, 0-9, '.', '_', '-', "
                           "starting with a letter or digit")
    return name


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Each call opens its own connection: safe from any thread, and the file is small."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():    # password hashes: owner-only
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self._db() as db:
            db.executescript(SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path, clock: Callable[[], float] = time.time) -> Accounts:
        return cls(Path(state_dir) / FILE_NAME, clock)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=5.0)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db
        finally:
            db.close()

    # -- accounts ------------------------------------------------------------------------------------

    def add(self, name: str, role: Role | str, password: str) -> Account:
        check_name(name)
        role = Role(role)
        check_strength(password)
        account = Account(name, role, self.clock())
        try:
            with self._db() as db:
                db.execute("INSERT INTO accounts (name, role, password, created) VALUES (?, ?, ?, ?)",
                           [name, role.value, hash_password(password), account.created])
        except sqlite3.IntegrityError:
            raise AccountError(f"account '{name}' exists already") from None
        return account

    def remove(self, name: str) -> Account:
        """The account and all its sessions."""
        account = self.get(name)
        if account is None:
            raise AccountError(f"no account '{name}'")
        with self._db() as db:
            db.execute("DELETE FROM accounts WHERE name = ?", [name])
        return account

    def get(self, name: str) -> Optional[Account]:
        with self._db() as db:
            row = db.execute("SELECT name, role, created FROM accounts WHERE name = ?", [name]).fetchone()
        return Account(row[0], Role(row[1]), row[2]) if row else None

    def all(self) -> list[Account]:
        with self._db() as db:
            rows = db.execute("SELECT name, role, created FROM accounts ORDER BY name").fetchall()
        return [Account(name, Role(role), created) for name, role, created in rows]

    def authenticate(self, name: str, password: str) -> Optional[Account]:
        """The account when the password is right; an unknown name costs the same time as a wrong password."""
        with self._db() as db:
            row = db.execute("SELECT name, role, created, password FROM accounts WHERE name = ?", [name]).fetchone()
        if row is None:
            verify_password(password, dummy_hash())
            return None
        return Account(row[0], Role(row[1]), row[2]) if verify_password(password, row[3]) else None

    # -- sessions ------------------------------------------------------------------------------------

    def open_session(self, account: Account, lifetime_s: float) -> tuple[str, Session]:
        """A new session (token for the cookie, session with its CSRF token); expired sessions are swept."""
        token, csrf = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires <= ?", [now])
            db.execute("INSERT INTO sessions (token_hash, account, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
                       [_token_hash(token), account.name, csrf, now, now + lifetime_s])
        return token, Session(account, csrf, now + lifetime_s)

    def session(self, token: str) -> Optional[Session]:
        """The live session of a cookie's token (None when unknown, expired or its account removed)."""
        if not token or len(token) > 128:
            return None
        with self._db() as db:
            row = db.execute("SELECT a.name, a.role, a.created, s.csrf, s.expires FROM sessions s "
                             "JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?",
                             [_token_hash(token)]).fetchone()
        if row is None or row[4] <= self.clock():
            return None
        return Session(Account(row[0], Role(row[1]), row[2]), row[3], row[4])

    def close_session(self, token: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", [_token_hash(token)])
