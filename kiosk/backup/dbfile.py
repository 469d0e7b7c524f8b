"""The SQLite side of a backup: a consistent copy of a live database, its integrity check and a summary."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from ..store import audit as ledger
from ..store.database import BUSY_TIMEOUT_MS


def copy(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The database file's content through SQLite's online backup API (the daemon may write meanwhile:
    the copy is one committed state), and its summary."""
    source = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    target = sqlite3.connect(":memory:")
    try:
        source.backup(target)
        return target.serialize(), summary(target)
    finally:
        target.close()
        source.close()


def summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts for the operator and for comparing a restore with its backup."""
    def count(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    seq, head = ledger.head(sqlite_utils.Database(conn))
    return {"schema": count("PRAGMA user_version"),
            "persons": count("SELECT COUNT(*) FROM persons WHERE deleted = 0"),
            "erased": count("SELECT COUNT(*) FROM persons WHERE deleted = 1"),
            "templates": count("SELECT COUNT(*) FROM templates"),
            "images": count("SELECT COUNT(*) FROM images"),
            "events": count("SELECT COUNT(*) FROM events"),
            "audit_records": count("SELECT COUNT(*) FROM audit"),
            "audit_head": {"seq": seq, "hash": head}}


def integrity(path: Path) -> str:
    """`PRAGMA integrity_check` of a database file: 'ok' or the first problem."""
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()


def file_summary(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        return summary(conn)
    finally:
        conn.close()


def describe(counts: dict[str, Any]) -> str:
    """One phrase: 'persons 3 (erased 1), templates 12, kept photos 2, events 40, audit records 57'."""
    return (f"persons {counts['persons']} (erased {counts['erased']}), templates {counts['templates']}, "
            f"kept photos {counts['images']}, events {counts['events']}, audit records {counts['audit_records']}")
