"""Attacks by someone who can write the database (and the head file) but does not hold the device key.

Each attack leaves a hash chain that is consistent on its own (the attacker recomputes the hashes),
so only the signatures and the signed head file can catch it. Real SQLite files, real keys.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.store import StoreError, audit, audit_sign
from kiosk.store.clock import to_utc_iso, utc_now
from kiosk.types import MatchResult

COLUMNS = ", ".join(audit.FIELDS)


def _fill(store, n: int = 10) -> None:
    for i in range(n):
        store.record_match_attempt(MatchResult(None, 0.7 + i / 100, 0.1, 0.5), granted=False, model_id="m1")


def _raw(store) -> sqlite3.Connection:
    """The attacker's own connection: drops the append-only guard and writes the file directly."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER IF EXISTS audit_append_only")
    return conn


def _forge(prev: dict, **fields) -> dict:
    """A record that chains correctly after `prev`, with a correct hash and no valid signature."""
    record = {"seq": prev["seq"] + 1, "at": to_utc_iso(utc_now()), "action": "view", "actor": "cli:mallory",
              "person_id": None, "outcome": None, "detail": None, "prev_hash": prev["hash"], "signature": None}
    record.update(fields)
    record["hash"] = audit.record_hash(record["prev_hash"], record)
    return record


def _insert(conn: sqlite3.Connection, record: dict) -> None:
    conn.execute(f"INSERT INTO audit ({COLUMNS}) VALUES ({', '.join('?' * len(audit.FIELDS))})",
                 [record[f] for f in audit.FIELDS])


def _rehash_from(conn: sqlite3.Connection, seq: int, edit: dict) -> None:
    """Edit record `seq` and recompute its hash and every later hash and link (signatures left as they were)."""
    rows = [dict(r) for r in conn.execute(f"SELECT {COLUMNS} FROM audit WHERE seq >= ? ORDER BY seq", [seq - 1])]
    prev_hash = rows[0]["hash"] if rows[0]["seq"] == seq - 1 else audit.GENESIS
    conn.execute("BEGIN")
    for row in rows:
        if row["seq"] < seq:
            continue
        if row["seq"] == seq:
            row.update(edit)
        row["prev_hash"] = prev_hash
        row["hash"] = audit.record_hash(prev_hash, row)
        conn.execute("UPDATE audit SET at = ?, action = ?, actor = ?, person_id = ?, outcome = ?, detail = ?, "
                     "prev_hash = ?, hash = ? WHERE seq = ?",
                     [row[k] for k in ("at", "action", "actor", "person_id", "outcome", "detail", "prev_hash", "hash",
                                       "seq")])
        prev_hash = row["hash"]
    conn.execute("COMMIT")


def _set_anchor(conn: sqlite3.Connection, seq: int, hash_: str, signature: str | None) -> None:
    conn.execute("DELETE FROM meta WHERE key LIKE 'audit_anchor_%'")
    values = [("audit_anchor_seq", str(seq).encode()), ("audit_anchor_hash", hash_.encode())]
    if signature is not None:
        values.append(("audit_anchor_sig", signature.encode()))
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", values)


def _broken(store, *words: str, first_bad: int | None = None):
    verdict = store.verify_audit()
    assert not verdict.ok, verdict.line()
    for word in words:
        assert word in verdict.reason, verdict.line()
    assert verdict.first_bad == first_bad, verdict.line()
    return verdict


# -- genuine ledgers ---------------------------------------------------------------------------------


def test_a_genuine_ledger_is_signed_throughout_and_matches_its_head(store):
    _fill(store)
    verdict = store.verify_audit()
    assert verdict.ok and verdict.checked == 10 and verdict.signed_head == 10 and verdict.legacy_until is None
    assert "signed head #10" in verdict.line()
    head = store.signed_audit_head()
    assert (head.seq, head.hash, head.first_seq) == (10, store.audit_head()[1], 1)
    assert json.loads(store.audit_head_path.read_text())["seq"] == 10
    assert store.audit_head_path.stat().st_mode & 0o077 == 0
    public = store.signer.public_key
    assert all(audit_sign.is_valid(public, r["signature"], "record", r["seq"], r["hash"]) for r in store.audit_records())


def test_a_genuine_ledger_verifies_after_a_retention_purge(store):
    _fill(store, 6)
    assert store.purge_expired(utc_now() + timedelta(days=1826)).audit == 6
    verdict = store.verify_audit()
    assert verdict.ok and verdict.checked == 1 and verdict.signed_head == 7
    _fill(store, 3)
    assert store.verify_audit().ok and store.verify_audit().signed_head == 10
    assert store.purge_expired(utc_now() + timedelta(days=3700)).audit == 4     # a second purge moves the anchor
    assert store.verify_audit().ok


def test_a_fresh_store_verifies_empty_without_a_head(store):
    verdict = store.verify_audit()
    assert verdict.ok and verdict.checked == 0 and verdict.signed_head is None
    assert not store.audit_head_path.exists()


def test_another_public_key_fails(store):
    _fill(store, 2)
    verdict = store.verify_audit(Ed25519PrivateKey.generate().public_key())
    assert not verdict.ok and verdict.first_bad == 1 and "signature does not verify" in verdict.reason


def test_two_stores_on_one_file_keep_one_head(make_store):
    """The daemon and the CLI append to one ledger; the head file only moves forward."""
    daemon, cli = make_store(), make_store()
    for _ in range(5):
        _fill(daemon, 2)
        _fill(cli, 1)
    verdict = cli.verify_audit()
    assert verdict.ok and verdict.checked == 15 and verdict.signed_head == 15


# -- appending without the key --------------------------------------------------------------------------


def test_an_appended_record_with_a_correct_hash_fails(store):
    _fill(store)
    conn = _raw(store)
    _insert(conn, _forge(store.audit_records()[-1]))
    _broken(store, "no signature", "without the device key", first_bad=11)


def test_an_appended_record_signed_by_another_key_fails(store):
    _fill(store)
    record = _forge(store.audit_records()[-1])
    record["signature"] = audit_sign.sign(Ed25519PrivateKey.generate(), "record", record["seq"], record["hash"])
    _insert(_raw(store), record)
    _broken(store, "does not verify", first_bad=11)


def test_a_signature_copied_from_another_record_fails(store):
    _fill(store)
    last = store.audit_records()[-1]
    _insert(_raw(store), _forge(last, signature=last["signature"]))
    _broken(store, "does not verify", first_bad=11)


# -- truncation at both ends ----------------------------------------------------------------------------


def test_cutting_the_oldest_records_behind_an_unsigned_anchor_fails(store):
    _fill(store)
    conn = _raw(store)
    fourth = dict(conn.execute("SELECT seq, hash FROM audit WHERE seq = 4").fetchone())
    conn.execute("DELETE FROM audit WHERE seq <= 4")
    _set_anchor(conn, 4, fourth["hash"], None)
    _broken(store, "anchor at #4 is not signed", "cut off")


def test_moving_a_genuine_anchor_forward_fails(store):
    _fill(store, 4)
    store.purge_expired(utc_now() + timedelta(days=1826))    # a genuine, signed anchor at #4
    _fill(store, 6)
    conn = _raw(store)
    old_signature = conn.execute("SELECT value FROM meta WHERE key = 'audit_anchor_sig'").fetchone()[0].decode()
    eighth = dict(conn.execute("SELECT seq, hash FROM audit WHERE seq = 8").fetchone())
    conn.execute("DELETE FROM audit WHERE seq <= 8")
    _set_anchor(conn, 8, eighth["hash"], old_signature)
    _broken(store, "anchor at #8 is not signed by the device key")


def test_cutting_the_oldest_records_without_an_anchor_fails(store):
    _fill(store)
    _raw(store).execute("DELETE FROM audit WHERE seq <= 3")
    _broken(store, "expected record #1", first_bad=4)


def test_cutting_the_newest_records_fails_by_the_signed_head(store):
    _fill(store)
    _raw(store).execute("DELETE FROM audit WHERE seq > 6")
    verdict = _broken(store, "ledger ends at #6", "record #10 was written", "newest 4 records were removed")
    assert verdict.line().startswith("audit ledger BROKEN: ")


def test_an_emptied_ledger_fails_when_the_head_says_records_existed(store):
    _fill(store)
    _raw(store).execute("DELETE FROM audit")
    _broken(store, "ledger is empty", "record #10 was written")


def test_a_deleted_database_is_refused_while_the_head_says_records_existed(tmp_path, make_store):
    """Not even the state marker is needed: the head alone refuses an empty database in place of the ledger."""
    _fill(make_store("kiosk.db"))
    for name in ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm", "kiosk.state.json"):
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(StoreError, match=r"kiosk.db is missing, but the signed audit head names record #10") as error:
        make_store("kiosk.db")
    assert str(error.value).endswith(f"move {tmp_path / 'kiosk.audit-head.json'} away")
    assert not (tmp_path / "kiosk.db").exists()


def test_a_head_rolled_back_by_hand_fails(store):
    _fill(store)
    data = json.loads(store.audit_head_path.read_text())
    _raw(store).execute("DELETE FROM audit WHERE seq > 6")
    row = dict(_raw(store).execute("SELECT hash FROM audit WHERE seq = 6").fetchone())
    store.audit_head_path.write_text(json.dumps({**data, "seq": 6, "hash": row["hash"]}))
    _broken(store, "not signed by the device key", "forged")


def test_a_deleted_head_file_fails_and_still_fails_once_re_created(store):
    _fill(store)
    _raw(store).execute("DELETE FROM audit WHERE seq > 6")
    store.audit_head_path.unlink()
    _broken(store, "signed head", "is missing")
    _fill(store, 1)                     # the next record re-creates the head, covering records from #7 only
    assert store.signed_audit_head().first_seq == 7
    _broken(store, "records from #1 are signed", "deleted and re-created")


def test_a_malformed_head_file_is_named(store):
    _fill(store, 2)
    store.audit_head_path.write_text("{not json")
    _broken(store, str(store.audit_head_path), "not an audit head")


# -- editing and re-hashing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seq", [1, 5, 10])
def test_an_edit_rehashed_to_the_end_fails_at_the_edited_record(store, seq):
    _fill(store)
    _rehash_from(_raw(store), seq, {"outcome": "granted"})
    _broken(store, "edited and re-hashed", first_bad=seq)


def test_stripping_every_signature_and_the_head_fails(store):
    """No downgrade: a ledger made after signing existed has no legacy boundary, so unsigned records never pass."""
    _fill(store)
    _rehash_from(_raw(store), 3, {"outcome": "granted"})
    _raw(store).execute("UPDATE audit SET signature = NULL")
    store.audit_head_path.unlink()
    _broken(store, "no signature", first_bad=1)


def test_re_signing_every_record_with_another_key_fails(store):
    """Everything rewritten and re-signed consistently, but with the attacker's key: the device key rejects it."""
    _fill(store)
    mallory = Ed25519PrivateKey.generate()
    conn = _raw(store)
    _rehash_from(conn, 3, {"outcome": "granted"})
    for row in conn.execute("SELECT seq, hash FROM audit").fetchall():
        conn.execute("UPDATE audit SET signature = ? WHERE seq = ?",
                     [audit_sign.sign(mallory, "record", row["seq"], row["hash"]), row["seq"]])
    _broken(store, "does not verify", first_bad=1)
