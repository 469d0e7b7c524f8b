"""Ledgers written before records were signed (schema v2): the upgrade keeps them verifiable, unsigned, up to a
signed boundary, and nothing unsigned is accepted after it."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from kiosk.store import Store, audit, schema
from kiosk.store.clock import to_utc_iso, utc_now


def _v2_ledger(path: Path, n: int, monkeypatch, *, purged: int = 0) -> list[dict]:
    """A schema-v2 database holding `n` unsigned records, the first `purged` of them purged behind an unsigned
    anchor (as the software before signing left them)."""
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        m.setattr(schema, "LATEST", 2)
        db = sqlite_utils.Database(path)
        schema.migrate(db)
    records, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        record = {"seq": seq, "at": to_utc_iso(utc_now()), "action": "match", "actor": "daemon", "person_id": None,
                  "outcome": "denied", "detail": '{"distance":0.8}', "prev_hash": prev}
        record["hash"] = prev = audit.record_hash(prev, record)
        records.append(record)
    db["audit"].insert_all(records)
    if purged:
        db.execute("DELETE FROM audit WHERE seq <= ?", [purged])
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)",
                   ["audit_anchor_seq", str(purged).encode(), "audit_anchor_hash", records[purged - 1]["hash"].encode()])
    db.conn.commit()
    db.conn.close()
    return records


@pytest.fixture
def upgraded(tmp_path, keys_dir, monkeypatch):
    _v2_ledger(tmp_path / "old.db", 5, monkeypatch)
    store = Store(tmp_path / "old.db", keys_dir)
    yield store
    store.close()


def _raw(store) -> sqlite3.Connection:
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_append_only")
    return conn


def test_the_upgrade_keeps_the_old_records_as_signed_legacy(upgraded):
    assert upgraded._db.db().execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    verdict = upgraded.verify_audit()
    assert verdict.ok and verdict.checked == 5 and verdict.legacy_until == 5 and verdict.signed_head is None
    assert "unsigned legacy records up to #5" in verdict.line()
    upgraded.audit("view", detail={"what": "x"})
    upgraded.audit("view", detail={"what": "y"})
    verdict = upgraded.verify_audit()
    assert verdict.ok and verdict.checked == 7 and verdict.legacy_until == 5 and verdict.signed_head == 7
    assert upgraded.signed_audit_head().first_seq == 6
    assert [bool(r["signature"]) for r in upgraded.audit_records()] == [False] * 5 + [True] * 2


def test_an_unsigned_record_after_the_boundary_fails(upgraded):
    upgraded.audit("view")
    last = upgraded.audit_records()[-1]
    forged = {**last, "seq": 7, "prev_hash": last["hash"], "signature": None, "actor": "cli:mallory"}
    forged["hash"] = audit.record_hash(forged["prev_hash"], forged)
    _raw(upgraded).execute(f"INSERT INTO audit ({', '.join(audit.FIELDS)}) VALUES ({', '.join('?' * len(audit.FIELDS))})",
                           [forged[f] for f in audit.FIELDS])
    verdict = upgraded.verify_audit()
    assert not verdict.ok and verdict.first_bad == 7 and "no signature" in verdict.reason


def test_moving_the_legacy_boundary_fails(upgraded):
    _raw(upgraded).execute("UPDATE meta SET value = ? WHERE key = 'audit_legacy_seq'", [b"9"])
    verdict = upgraded.verify_audit()
    assert not verdict.ok and "legacy boundary (#9) is not signed" in verdict.reason


def test_removing_the_legacy_boundary_makes_the_old_records_fail(upgraded):
    _raw(upgraded).execute("DELETE FROM meta WHERE key LIKE 'audit_legacy_%'")
    verdict = upgraded.verify_audit()
    assert not verdict.ok and verdict.first_bad == 1 and "no signature" in verdict.reason


def test_legacy_records_edited_and_rehashed_fail_at_the_boundary(upgraded):
    conn = _raw(upgraded)
    rows = upgraded.audit_records()
    prev = rows[1]["hash"]
    for row in rows[2:]:
        row = {**row, "outcome": "granted", "prev_hash": prev}
        row["hash"] = prev = audit.record_hash(prev, row)
        conn.execute("UPDATE audit SET outcome = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     [row["outcome"], row["prev_hash"], row["hash"], row["seq"]])
    verdict = upgraded.verify_audit()
    assert not verdict.ok and "record #5, the last unsigned record" in verdict.reason


def test_an_anchor_from_before_signing_is_signed_by_the_upgrade(tmp_path, keys_dir, monkeypatch):
    records = _v2_ledger(tmp_path / "old.db", 6, monkeypatch, purged=3)
    with Store(tmp_path / "old.db", keys_dir) as store:
        assert store.verify_audit().ok
        store.audit("view")
        verdict = store.verify_audit()
        assert verdict.ok and verdict.checked == 4 and verdict.legacy_until == 6
        conn = _raw(store)               # cutting more legacy records behind a moved anchor still fails
        conn.execute("DELETE FROM audit WHERE seq <= 5")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_anchor_seq'", [b"5"])
        conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_anchor_hash'", [records[4]["hash"].encode()])
        verdict = store.verify_audit()
        assert not verdict.ok and "anchor at #5 is not signed by the device key" in verdict.reason
