"""The audit ledger: an append-only, hash-chained record of every use of face data.

Each record's hash is sha256(previous record's hash || canonical JSON of its own fields), the
first record chains to 64 zeros (or, after old records were purged under the retention rule, to
the anchor left by the purge). Editing, removing or reordering any record breaks the chain at
that record or the one after it, and `verify_records` names the first bad one. Truncating the
newest records cannot be seen from inside the file: compare the head hash with one kept
elsewhere (the daemon can publish it).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import sqlite_utils

from .clock import to_utc_iso, utc_now
from .signing import canonical

GENESIS = "0" * 64
FIELDS = ("seq", "at", "action", "actor", "person_id", "outcome", "detail", "prev_hash", "hash")
ACTIONS = ("enroll", "match", "export", "view", "delete", "config_change", "person_add", "person_update",
           "fleet_apply", "reembed", "retention", "command", "key_init")
_ANCHOR_SEQ, _ANCHOR_HASH = "audit_anchor_seq", "audit_anchor_hash"


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    detail = record.get("detail")
    if isinstance(detail, str):
        detail = json.loads(detail) if detail else None
    body = {"seq": int(record["seq"]), "at": record["at"], "action": record["action"], "actor": record["actor"],
            "person_id": record.get("person_id") or None, "outcome": record.get("outcome") or None, "detail": detail}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(body)).hexdigest()


def anchor(db: sqlite_utils.Database) -> tuple[int, str]:
    """(seq, hash) the first remaining record chains to: (0, zeros), or the last purged record."""
    rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", [_ANCHOR_SEQ, _ANCHOR_HASH]).fetchall())
    if _ANCHOR_SEQ in rows:
        return int(rows[_ANCHOR_SEQ]), rows[_ANCHOR_HASH].decode("ascii")
    return 0, GENESIS


def append(db: sqlite_utils.Database, action: str, actor: str, *, person_id: Optional[str] = None,
           outcome: Optional[str] = None, detail: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Append one record. Call inside `Database.write()` so the read of the head and the insert are atomic."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    prev_seq, prev_hash = last if last else anchor(db)
    record: dict[str, Any] = {"seq": prev_seq + 1, "at": to_utc_iso(utc_now()), "action": action, "actor": actor,
                              "person_id": person_id, "outcome": outcome,
                              "detail": canonical(dict(detail)).decode("utf-8") if detail is not None else None,
                              "prev_hash": prev_hash}
    record["hash"] = record_hash(prev_hash, record)
    db.execute(f"INSERT INTO audit ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})",
               [record[f] for f in FIELDS])
    return record


def head(db: sqlite_utils.Database) -> tuple[int, str]:
    last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return tuple(last) if last else anchor(db)  # type: ignore[return-value]


@dataclass
class Verdict:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad: Optional[int] = None     # seq of the first record that fails, as stored
    position: Optional[int] = None      # 1-based position of that record in the checked sequence
    reason: Optional[str] = None

    def line(self) -> str:
        if self.ok:
            return f"audit ledger OK: {self.checked} records, head #{self.head_seq} {self.head_hash}"
        return f"audit ledger BROKEN at record #{self.first_bad} (position {self.position}): {self.reason}"


def _problem(record: Mapping[str, Any], expected_seq: int, expected_prev: str) -> Optional[str]:
    """Why `record` cannot follow (expected_seq - 1, expected_prev) in the chain, or None."""
    if int(record["seq"]) != expected_seq:
        return f"expected record #{expected_seq} here: records were removed or reordered"
    if record["prev_hash"] != expected_prev:
        return "its link to the previous record is broken: a record before it was removed, edited or reordered"
    try:
        computed = record_hash(expected_prev, record)
    except (KeyError, ValueError, TypeError) as exc:
        return f"record is malformed ({exc})"
    if computed != record["hash"]:
        return "its content does not match its hash: the record was edited"
    return None


def verify_records(records: Iterable[Mapping[str, Any]], start_seq: int = 0, start_hash: str = GENESIS) -> Verdict:
    """Check a run of records in stored order against the chain that starts after (start_seq, start_hash)."""
    expected_seq, expected_prev = start_seq + 1, start_hash
    checked = 0
    for position, record in enumerate(records, start=1):
        reason = _problem(record, expected_seq, expected_prev)
        if reason:
            return Verdict(False, checked, expected_seq - 1, expected_prev, int(record["seq"]), position, reason)
        expected_seq, expected_prev = int(record["seq"]) + 1, record["hash"]
        checked += 1
    return Verdict(True, checked, expected_seq - 1, expected_prev)


def verify(db: sqlite_utils.Database) -> Verdict:
    start_seq, start_hash = anchor(db)
    rows = db.query(f"SELECT {', '.join(FIELDS)} FROM audit ORDER BY seq")
    return verify_records(rows, start_seq, start_hash)


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
    """Records from a JSON or CSV export, ready for `verify_records`; ValueError when neither."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise ValueError("JSON export without a 'records' list")
        return records
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or list(reader.fieldnames) != list(FIELDS):
        raise ValueError(f"not an audit export (CSV header must be {','.join(FIELDS)})")
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


def purge_before(db: sqlite_utils.Database, cutoff: str) -> int:
    """Remove records older than `cutoff`, leaving an anchor so the rest still verifies. Inside a write."""
    last = db.execute("SELECT seq, hash FROM audit WHERE at < ? ORDER BY seq DESC LIMIT 1", [cutoff]).fetchone()
    if last is None:
        return 0
    removed = db.execute("DELETE FROM audit WHERE seq <= ?", [last[0]]).rowcount
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?), (?, ?)",
               [_ANCHOR_SEQ, str(last[0]).encode(), _ANCHOR_HASH, last[1].encode("ascii")])
    return removed
