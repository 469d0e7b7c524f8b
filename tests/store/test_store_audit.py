"""The audit ledger's hash chain: edits, removals and reorderings are found at the right record; exports re-verify.
Attacks on the signatures and the signed head are in test_store_audit_tamper.py."""
from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from kiosk.store import audit, audit_verify
from kiosk.store.clock import utc_now
from kiosk.types import MatchResult


def _fill(store, n: int = 10) -> None:
    for i in range(n):
        store.record_match_attempt(MatchResult(None, 0.7 + i / 100, 0.1, 0.5), granted=False, model_id="m1")


def _raw(store) -> sqlite3.Connection:
    """An attacker's own connection: drops the append-only guard and edits the file directly."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_append_only")
    return conn


def test_intact_ledger_verifies(store):
    _fill(store)
    verdict = store.verify_audit()
    assert verdict.ok and verdict.checked == 10 and verdict.head_seq == 10
    assert (verdict.head_seq, verdict.head_hash) == store.audit_head()


@pytest.mark.parametrize("column, value", [("detail", '{"distance":0.1}'), ("outcome", "granted"),
                                           ("person_id", "f" * 32), ("at", "2020-01-01T00:00:00.000000+00:00"),
                                           ("action", "view")])
def test_edited_record_is_named(store, column, value):
    _fill(store)
    _raw(store).execute(f"UPDATE audit SET {column} = ? WHERE seq = 6", [value])
    verdict = store.verify_audit()
    assert not verdict.ok and verdict.first_bad == 6 and verdict.position == 6
    assert "edited" in verdict.reason


def test_edit_with_recomputed_hash_fails_its_signature(store):
    _fill(store)
    rows = store.audit_records()
    forged = {**rows[3], "outcome": "granted"}
    forged["hash"] = audit.record_hash(forged["prev_hash"], forged)
    _raw(store).execute("UPDATE audit SET outcome = ?, hash = ? WHERE seq = 4", ["granted", forged["hash"]])
    verdict = store.verify_audit()
    assert not verdict.ok and verdict.first_bad == 4 and "edited and re-hashed" in verdict.reason


@pytest.mark.parametrize("removed, first_bad", [(1, 2), (5, 6), (9, 10)])
def test_removed_record_is_found_at_the_next_position(store, removed, first_bad):
    _fill(store)
    _raw(store).execute("DELETE FROM audit WHERE seq = ?", [removed])
    verdict = store.verify_audit()
    assert not verdict.ok and verdict.first_bad == first_bad and verdict.position == removed
    assert "removed or reordered" in verdict.reason


def test_swapped_records_are_found_at_the_first_swapped_position(store):
    _fill(store)
    conn = _raw(store)
    conn.execute("BEGIN")
    conn.execute("UPDATE audit SET seq = -1 WHERE seq = 4")
    conn.execute("UPDATE audit SET seq = 4 WHERE seq = 7")
    conn.execute("UPDATE audit SET seq = 7 WHERE seq = -1")
    conn.execute("COMMIT")
    verdict = store.verify_audit()
    assert not verdict.ok and verdict.first_bad == 4 and verdict.position == 4


def test_swapped_contents_keeping_seq_are_found(store):
    _fill(store)
    conn = _raw(store)
    rows = {r["seq"]: r for r in store.audit_records()}
    for seq, other in ((3, 8), (8, 3)):
        conn.execute("UPDATE audit SET detail = ?, hash = ?, prev_hash = ? WHERE seq = ?",
                     [rows[other]["detail"], rows[other]["hash"], rows[other]["prev_hash"], seq])
    verdict = store.verify_audit()
    assert not verdict.ok and verdict.first_bad == 3


def test_update_is_refused_by_the_guard(store):
    _fill(store, 2)
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET outcome = 'granted' WHERE seq = 1")
    conn.close()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_of_a_range_reverifies_and_detects_tampering(store, fmt):
    _fill(store)
    rows = store.audit_records()
    text = store.export_audit(since=rows[2]["at"], until=rows[7]["at"], fmt=fmt)
    records = audit.parse_export(text)
    assert [int(r["seq"]) for r in records] == [3, 4, 5, 6, 7]
    first = records[0]
    public = store.signer.public_key
    assert all(r["signature"] for r in records)
    assert audit_verify.verify_records(records, int(first["seq"]) - 1, first["prev_hash"], public).ok
    tampered = audit.parse_export(text.replace('"outcome": "denied"', '"outcome": "granted"', 2)
                                  if fmt == "json" else text.replace(",denied,", ",granted,", 2))
    verdict = audit_verify.verify_records(tampered, int(first["seq"]) - 1, first["prev_hash"], public)
    assert not verdict.ok and verdict.first_bad == 3
    assert store.audit_records()[-1]["action"] == "export"     # the export itself is audited


def test_json_export_is_readable(store):
    _fill(store, 2)
    data = json.loads(store.export_audit(fmt="json"))
    assert data["device_id"] == "kiosk-1" and data["records"][0]["detail"]["model_id"] == "m1"


def test_purge_leaves_an_anchor_and_never_takes_young_records(store):
    _fill(store, 6)
    assert store.purge_expired(utc_now() + timedelta(days=1000)).audit == 0   # younger than 1825 days
    report = store.purge_expired(utc_now() + timedelta(days=1826))
    assert report.audit == 6
    remaining = store.audit_records()
    assert [r["action"] for r in remaining] == ["retention"] and remaining[0]["seq"] == 7
    assert store.verify_audit().ok
    _fill(store, 2)
    assert store.verify_audit().ok and store.verify_audit().checked == 3
