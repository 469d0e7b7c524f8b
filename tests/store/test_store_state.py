"""Storage checked at open: the state marker refuses a missing or emptied database that was in use, and a
database damaged on disk is refused by `PRAGMA quick_check` (real SQLite files, corrupted on disk)."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid

import pytest

from kiosk.store import Store, StoreError

PAGE = 4096


def _event() -> dict:
    return {"type": "access_denied", "event_id": uuid.uuid4().hex, "device_id": "kiosk-1",
            "device_time": "2026-11-28T22:50:01.123+00:00", "person": None, "temperature": None, "liveness": None,
            "mask": None, "decision": {"outcome": "denied", "reasons": ["unknown_face"]}, "attendance": None,
            "match": None, "detail": {"note": "x" * 200}}


def _used(tmp_path, keys_dir, events: int = 81, records: int = 49) -> None:
    """A database that was in use (the tester's numbers), closed and checkpointed into the main file."""
    with Store(tmp_path / "kiosk.db", keys_dir) as store:
        for _ in range(events):
            store.record_event(_event())
        for i in range(records):
            store.audit("view", detail={"i": i})
        store._db.checkpoint()


def _marker(tmp_path) -> dict:
    return json.loads((tmp_path / "kiosk.state.json").read_text())


def test_first_open_writes_the_marker_with_the_database_id(tmp_path, keys_dir):
    with Store(tmp_path / "kiosk.db", keys_dir) as store:
        stored = store._db.db().execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()[0]
    marker = _marker(tmp_path)
    assert marker["database"] == "kiosk.db" and marker["database_id"] == stored.decode()
    assert ((tmp_path / "kiosk.state.json").stat().st_mode & 0o777) == 0o600
    Store(tmp_path / "kiosk.db", keys_dir).close()            # reopening keeps it
    assert _marker(tmp_path) == marker


@pytest.mark.parametrize("damage", ["zero-length", "missing"])
def test_an_emptied_database_is_refused_with_one_line(tmp_path, keys_dir, damage):
    _used(tmp_path, keys_dir)
    for name in ("kiosk.db-wal", "kiosk.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    if damage == "missing":
        (tmp_path / "kiosk.db").unlink()
    else:
        (tmp_path / "kiosk.db").write_bytes(b"")
    with pytest.raises(StoreError) as error:
        Store(tmp_path / "kiosk.db", keys_dir)
    message = str(error.value)
    assert "\n" not in message
    assert ("is empty (0 bytes)" if damage == "zero-length" else "is missing") in message
    assert "kiosk.state.json says it was created" in message and "names record #49" in message
    assert "restore it from a backup (`kiosk restore --force ARCHIVE`" in message
    assert "to start an empty database deliberately" in message
    # Nothing was created in its place.
    assert not (tmp_path / "kiosk.db").exists() if damage == "missing" else (tmp_path / "kiosk.db").stat().st_size == 0


def test_the_marker_alone_refuses_an_emptied_database(tmp_path, keys_dir):
    """A database without audit records (so no head file): the marker is the only witness."""
    with Store(tmp_path / "kiosk.db", keys_dir) as store:
        store.record_event(_event())
    assert not (tmp_path / "kiosk.audit-head.json").exists()
    (tmp_path / "kiosk.db").write_bytes(b"")
    with pytest.raises(StoreError, match=r"kiosk.db is empty \(0 bytes\), but kiosk.state.json says"):
        Store(tmp_path / "kiosk.db", keys_dir)


def test_a_database_without_tables_is_refused(tmp_path, keys_dir):
    _used(tmp_path, keys_dir)
    for name in ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    conn = sqlite3.connect(tmp_path / "kiosk.db")        # a fresh SQLite file: header, no tables
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.close()
    with pytest.raises(StoreError, match="is without tables, but"):
        Store(tmp_path / "kiosk.db", keys_dir)


def test_moving_the_marker_and_head_away_starts_empty_on_purpose(tmp_path, keys_dir):
    _used(tmp_path, keys_dir)
    old_id = _marker(tmp_path)["database_id"]
    (tmp_path / "kiosk.db").write_bytes(b"")
    for name in ("kiosk.db-wal", "kiosk.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "kiosk.state.json").rename(tmp_path / "kiosk.state.json.old")
    with pytest.raises(StoreError, match="move .*kiosk.audit-head.json away"):    # the head still says #49
        Store(tmp_path / "kiosk.db", keys_dir)
    (tmp_path / "kiosk.audit-head.json").rename(tmp_path / "kiosk.audit-head.json.old")
    with Store(tmp_path / "kiosk.db", keys_dir) as store:
        assert store.events() == [] and store.verify_audit().ok
    assert _marker(tmp_path)["database_id"] != old_id


def test_another_database_in_its_place_is_refused(tmp_path, keys_dir):
    _used(tmp_path, keys_dir, events=3, records=2)
    other = tmp_path / "other"
    other.mkdir()
    Store(other / "kiosk.db", keys_dir).close()
    shutil.copy(other / "kiosk.db", tmp_path / "kiosk.db")
    for name in ("kiosk.db-wal", "kiosk.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(StoreError, match="is not the database kiosk.state.json was written for"):
        Store(tmp_path / "kiosk.db", keys_dir)
    (tmp_path / "kiosk.state.json").unlink()                    # adopt it deliberately
    Store(tmp_path / "kiosk.db", keys_dir).close()
    assert _marker(tmp_path)["database_id"] == _marker(other)["database_id"]


def test_a_database_from_before_the_marker_is_adopted(tmp_path, keys_dir):
    _used(tmp_path, keys_dir, events=3, records=2)
    backup = tmp_path / "backup.db"
    conn = sqlite3.connect(tmp_path / "kiosk.db")
    conn.execute("DELETE FROM meta WHERE key = 'database_id'")   # as written by the release before the marker
    conn.commit()
    conn.execute(f"VACUUM INTO '{backup}'")
    conn.close()
    (tmp_path / "kiosk.state.json").unlink()
    Store(tmp_path / "kiosk.db", keys_dir).close()               # upgrade: the marker is written
    marker = _marker(tmp_path)
    for name in ("kiosk.db-wal", "kiosk.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    shutil.copy(backup, tmp_path / "kiosk.db")                   # a backup from before: takes the marker's id
    with Store(tmp_path / "kiosk.db", keys_dir) as store:
        assert len(store.events()) == 3
    assert _marker(tmp_path) == marker


def test_a_garbage_marker_is_refused(tmp_path, keys_dir):
    Store(tmp_path / "kiosk.db", keys_dir).close()
    (tmp_path / "kiosk.state.json").write_text("{not json")
    with pytest.raises(StoreError, match="kiosk.state.json: not a state marker"):
        Store(tmp_path / "kiosk.db", keys_dir)


@pytest.mark.parametrize("where", [1 / 3, 1 / 2, 2 / 3])
def test_a_page_corrupted_in_the_middle_is_refused_at_open(tmp_path, keys_dir, where):
    _used(tmp_path, keys_dir, events=300, records=40)
    path = tmp_path / "kiosk.db"
    page = int(path.stat().st_size // PAGE * where)
    with open(path, "r+b") as db:
        db.seek(page * PAGE)
        db.write(os.urandom(PAGE))
    with pytest.raises(StoreError) as error:
        Store(path, keys_dir)
    message = str(error.value)
    assert "\n" not in message and f"{path} is damaged (quick_check:" in message
    assert "restore it from a backup (`kiosk restore --force ARCHIVE`" in message


def test_integrity_check_finds_an_index_that_does_not_match_its_table(tmp_path, keys_dir):
    _used(tmp_path, keys_dir, events=3, records=5)
    with Store(tmp_path / "kiosk.db", keys_dir) as store:
        store.check_integrity()                                  # intact: no error
    conn = sqlite3.connect(tmp_path / "kiosk.db")
    conn.execute("PRAGMA writable_schema = ON")                  # the index now claims to hold another column
    conn.execute("UPDATE sqlite_master SET sql = replace(sql, '(\"at\")', '(\"action\")') WHERE name = 'idx_audit_at'")
    conn.commit()
    conn.close()
    with Store(tmp_path / "kiosk.db", keys_dir) as store:         # the quick check at open does not see it
        with pytest.raises(StoreError, match=r"is damaged \(integrity_check: row 1 missing from index idx_audit_at"):
            store.check_integrity()
