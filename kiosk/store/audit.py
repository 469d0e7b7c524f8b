"""The audit ledger: an append-only, hash-chained, signed record of every use of face data.

Each record's hash is sha256(previous record's hash || canonical JSON of its own fields), the
first record chains to 64 zeros (or, after old records were purged under the retention rule, to
the anchor left by the purge). Each record also carries an Ed25519 signature by the device key
over (seq, hash), and the anchor of a purge is signed too (`audit_sign`), so records cannot be
forged, re-hashed or cut from the front without the key. The newest record ever written is kept,
signed, in a head file outside the database (`audit_head`), so cutting the newest records shows.
Records written before signing existed (schema v2) stay unsigned up to a signed legacy boundary.
`audit_verify` checks all of it.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import audit_sign
from .clock import to_utc_iso, utc_now
from .signing import canonical

GENESIS = "0" * 64
CHAINED = ("seq", "at", "action", "actor", "person_id", "outcome", "detail", "prev_hash", "hash")
FIELDS = (*CHAINED, "signature")
ACTIONS = ("enroll", "match", "export", "view", "delete", "config_change", "person_add", "person_update",
           "fleet_apply", "reembed", "retention", "command", "key_init", "consent_withdraw",
           "account", "login", "consent")
_ANCHOR, _LEGACY = "audit_anchor", "audit_legacy"


class Mark(NamedTuple):
    """A signed (seq, hash) kept in `meta`: the anchor of a purge, or the end of the unsigned legacy records."""
    seq: int
    hash: str
    signature: Optional[str]     # None only if forged: the store signs every mark it writes


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    detail = record.get("detail")
    if isinstance(detail, str):
        detail = json.loads(detail) if detail else None
    body = {"seq": int(record["seq"]), "at": record["at"], "action": record["action"], "actor": record["actor"],
            "person_id": record.get("person_id") or None, "outcome": record.get("outcome") or None, "detail": detail}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(body)).hexdigest()


def _mark(db: sqlite_utils.Database, name: str) -> Optional[Mark]:
    keys = [f"{name}_seq", f"{name}_hash", f"{name}_sig"]
    rows = {k: v.decode("ascii") for k, v in db.execute(
        "SELECT key, value FROM meta WHERE key IN (?, ?, ?)", keys).fetchall()}
    if keys[0] not in rows:
        return None
    return Mark(int(rows[keys[0]]), rows[keys[1]], rows.get(keys[2]))


def _set_mark(db: sqlite_utils.Database, name: str, kind: str, key: Ed25519PrivateKey, seq: int, hash_: str) -> None:
    signature = audit_sign.sign(key, kind, seq, hash_)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?)",
               [f"{name}_seq", str(seq).encode(), f"{name}_hash", hash_.encode("ascii"),
                f"{name}_sig", signature.encode("ascii")])


def anchor_mark(db: sqlite_utils.Database) -> Optional[Mark]:
    """The anchor left by the last retention purge, None when nothing was ever purged."""
    return _mark(db, _ANCHOR)


def legacy_mark(db: sqlite_utils.Database) -> Optional[Mark]:
    """The last record written before records were signed, None when there is none."""
    return _mark(db, _LEGACY)


def anchor(db: sqlite_utils.Database) -> tuple[int, str]:
    """(seq, hash) the first remaining record chains to: (0, zeros), or the last purged record."""
    mark = anchor_mark(db)
    return (mark.seq, mark.hash) if mark else (0, GENESIS)


def seal_legacy(db: sqlite_utils.Database, key: Ed25519PrivateKey) -> None:
    """Sign where the unsigned records end, and the anchor of an earlier purge; once, in the transaction of
    the migration that adds signatures."""
    old_anchor = anchor_mark(db)
    if old_anchor is not None:
        _set_mark(db, _ANCHOR, audit_sign.ANCHOR, key, old_anchor.seq, old_anchor.hash)
    seq, hash_ = head(db)
    if seq:
        _set_mark(db, _LEGACY, audit_sign.LEGACY, key, seq, hash_)


def append(db: sqlite_utils.Database, key: Ed25519PrivateKey, action: str, actor: str, *,
           person_id: Optional[str] = None, outcome: Optional[str] = None,
           detail: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Append one signed record. Call inside `Database.write()` so the read of the head and the insert are atomic."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    prev_seq, prev_hash = head(db)
    record: dict[str, Any] = {"seq": prev_seq + 1, "at": to_utc_iso(utc_now()), "action": action, "actor": actor,
                              "person_id": person_id, "outcome": outcome,
                              "detail": canonical(dict(detail)).decode("utf-8") if detail is not None else None,
                              "prev_hash": prev_hash}
    record["hash"] = record_hash(prev_hash, record)
    record["signature"] = audit_sign.sign(key, audit_sign.RECORD, record["seq"], record["hash"])
    db.execute(f"INSERT INTO audit ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})",
               [record[f] for f in FIELDS])
    return record


def head(db: sqlite_utils.Database) -> tuple[int, str]:
    last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return tuple(last) if last else anchor(db)


def select(db: sqlite_utils.Database, since: Optional[str], until: Optional[str]) -> list[dict[str, Any]]:
    """Records with since <= at < until (UTC ISO strings; None = open end), in chain order."""
    where, params = [], []
    if since:
        where.append("at >= ?")
        params.append(since)
    if until:
        where.append("at < ?")
        params.append(until)
    sql = f"SELECT {', '.join(FIELDS)} FROM audit {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY seq"
    return list(db.query(sql, params))


def to_json(records: list[dict[str, Any]], meta: Mapping[str, Any]) -> str:
    """An export a regulator can read and anyone can re-verify (`kiosk audit verify --file`)."""
    rows = [{**r, "detail": json.loads(r["detail"]) if r["detail"] else None} for r in records]
    return json.dumps({**meta, "records": rows}, indent=2, ensure_ascii=False) + "\n"


def to_csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: ("" if record[k] is None else record[k]) for k in FIELDS})
    return out.getvalue()


def parse_export(text: str) -> list[dict[str, Any]]:
    """Records from a JSON or CSV export (with or without the signature column of exports before
    signing), ready for `audit_verify.verify_records`; ValueError when neither."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise ValueError("JSON export without a 'records' list")
        return records
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or list(reader.fieldnames) not in (list(FIELDS), list(CHAINED)):
        raise ValueError(f"not an audit export (CSV header must be {','.join(FIELDS)})")
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


def purge_before(db: sqlite_utils.Database, cutoff: str, key: Ed25519PrivateKey) -> int:
    """Remove records older than `cutoff`, leaving a signed anchor so the rest still verifies. Inside a write."""
    last = db.execute("SELECT seq, hash FROM audit WHERE at < ? ORDER BY seq DESC LIMIT 1", [cutoff]).fetchone()
    if last is None:
        return 0
    removed = db.execute("DELETE FROM audit WHERE seq <= ?", [last[0]]).rowcount
    _set_mark(db, _ANCHOR, audit_sign.ANCHOR, key, last[0], last[1])
    return removed
