"""`audit verify`: the hash chain, the signatures, the anchor, the legacy boundary and the signed head.

Checked in this order, stopping at the first problem (docs/contracts.md section 6):
1. the legacy boundary and the anchor of the last purge are signed by the device key;
2. every record links to the one before it, matches its hash, and is signed (only records up to
   the legacy boundary, written before records were signed, may be unsigned);
3. the signed head file names a record that is still there: the ledger does not end before it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import audit_sign
from .audit import FIELDS, GENESIS, Mark, anchor_mark, legacy_mark, record_hash
from .audit_head import HeadFile, HeadFileError, SignedHead
from .keys import key_id


@dataclass
class Verdict:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad: Optional[int] = None      # seq of the first record that fails, as stored
    position: Optional[int] = None       # 1-based position of that record in the checked sequence
    reason: Optional[str] = None
    legacy_until: Optional[int] = None   # the last unsigned record (written before records were signed)
    first_signed: Optional[int] = None   # the first signed record
    signed_head: Optional[int] = None    # the record the signed head file names, when it was checked

    def line(self) -> str:
        if not self.ok:
            where = f" at record #{self.first_bad} (position {self.position})" if self.first_bad is not None else ""
            return f"audit ledger BROKEN{where}: {self.reason}"
        line = f"audit ledger OK: {self.checked} records"
        if self.legacy_until is not None:
            line += (f" (unsigned legacy records up to #{self.legacy_until}, written before records were signed: "
                     "only the hash chain protects them)")
        if self.signed_head is not None:
            line += f", signed head #{self.signed_head}"
        return f"{line}, head #{self.head_seq} {self.head_hash}"


def _chain_problem(record: Mapping[str, Any], expected_seq: int, expected_prev: str) -> Optional[str]:
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


def _signature_problem(record: Mapping[str, Any], public: Ed25519PublicKey, unsigned_allowed: bool) -> Optional[str]:
    signature = record.get("signature")
    if not signature:
        return None if unsigned_allowed else "it has no signature: it was added without the device key"
    if not audit_sign.is_valid(public, signature, audit_sign.RECORD, int(record["seq"]), str(record["hash"])):
        return (f"its signature does not verify under the device key {key_id(public)}: the record was forged, "
                "or edited and re-hashed")
    return None


def verify_records(records: Iterable[Mapping[str, Any]], start_seq: int, start_hash: str,
                   public: Ed25519PublicKey, *, unsigned_until: Optional[int] = None) -> Verdict:
    """Check a run of records in stored order against the chain that starts after (start_seq, start_hash).

    Records up to seq `unsigned_until` may be unsigned; with None (an export, whose legacy boundary
    is not known), unsigned records are allowed only before the first signed one."""
    expected_seq, expected_prev = start_seq + 1, start_hash
    checked, legacy_until, first_signed = 0, None, None
    for position, record in enumerate(records, start=1):
        seq = expected_seq
        reason = _chain_problem(record, seq, expected_prev)
        if not reason:
            allowed = first_signed is None if unsigned_until is None else seq <= unsigned_until
            reason = _signature_problem(record, public, allowed)
        if reason:
            return Verdict(False, checked, expected_seq - 1, expected_prev, int(record["seq"]), position, reason,
                           legacy_until, first_signed)
        if record.get("signature"):
            first_signed = seq if first_signed is None else first_signed
        else:
            legacy_until = seq
        expected_seq, expected_prev = seq + 1, record["hash"]
        checked += 1
    return Verdict(True, checked, expected_seq - 1, expected_prev, legacy_until=legacy_until,
                   first_signed=first_signed)


def _marks_problem(anchor: Optional[Mark], legacy: Optional[Mark], public: Ed25519PublicKey) -> Optional[str]:
    kid = key_id(public)
    if legacy and not audit_sign.is_valid(public, legacy.signature, audit_sign.LEGACY, legacy.seq, legacy.hash):
        return (f"the legacy boundary (#{legacy.seq}) is not signed by the device key {kid}: it was moved, so that "
                "forged unsigned records would pass as records from before signing")
    if anchor is None:
        return None
    if anchor.signature is None:
        return (f"the anchor at #{anchor.seq} is not signed: the records before it were cut off without the "
                "device key")
    if not audit_sign.is_valid(public, anchor.signature, audit_sign.ANCHOR, anchor.seq, anchor.hash):
        return (f"the anchor at #{anchor.seq} is not signed by the device key {kid}: the records before it were "
                "cut off without the key")
    return None


def _stored_hash(db: sqlite_utils.Database, seq: int) -> Optional[str]:
    row = db.execute("SELECT hash FROM audit WHERE seq = ?", [seq]).fetchone()
    return row[0] if row else None


def _head_problem(db: sqlite_utils.Database, walk: Verdict, start: tuple[int, str], legacy_until: int,
                  head_file: HeadFile, head: Optional[SignedHead], public: Ed25519PublicKey) -> Optional[str]:
    if head is None:
        if walk.first_signed is not None or start[0] > legacy_until:    # signed records, or a purge of them
            return (f"the signed head {head_file.path} is missing: records cut from the end of the ledger would "
                    "not show (restore it; the next record re-creates it and this check then names the gap)")
        return None
    if not head.is_signed_by(public):
        return f"{head_file.path} is not signed by the device key {key_id(public)}: the head was forged"
    if head.seq > walk.head_seq:
        what = "the ledger is empty" if walk.checked == 0 else f"the ledger ends at #{walk.head_seq}"
        cut = head.seq - walk.head_seq
        return (f"{what}, but the signed head says record #{head.seq} was written: "
                + ("the newest record was removed" if cut == 1 else f"the newest {cut} records were removed"))
    if head.seq > start[0]:
        known = _stored_hash(db, head.seq)
    else:           # the anchor, or a record purged since (nothing left to compare with)
        known = start[1] if head.seq == start[0] else head.hash
    if known != head.hash:
        return f"record #{head.seq} is not the one the signed head names: the ledger was replaced"
    if walk.first_signed is not None and walk.first_signed < head.first_seq:
        return (f"records from #{walk.first_signed} are signed, but the signed head only covers records from "
                f"#{head.first_seq}: the head file was deleted and re-created, so records cut from the end before "
                "then cannot be ruled out")
    return None


def verify(db: sqlite_utils.Database, public: Ed25519PublicKey, head_file: HeadFile) -> Verdict:
    """The whole check of the ledger in `db` against the device's public key and its signed head."""
    anchor, legacy = anchor_mark(db), legacy_mark(db)
    problem = _marks_problem(anchor, legacy, public)
    if problem:
        return Verdict(False, 0, 0, GENESIS, reason=problem)
    start = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
    rows = db.query(f"SELECT {', '.join(FIELDS)} FROM audit ORDER BY seq")
    walk = verify_records(rows, *start, public, unsigned_until=legacy.seq if legacy else 0)
    if not walk.ok:
        return walk
    head: Optional[SignedHead] = None
    if legacy and legacy.seq > start[0] and _stored_hash(db, legacy.seq) != legacy.hash:
        problem = (f"record #{legacy.seq}, the last unsigned record the signed legacy boundary names, is missing or "
                   "different: unsigned records were cut off or edited")
    else:
        try:
            head = head_file.read()
        except HeadFileError as exc:
            problem = str(exc)
        else:
            problem = _head_problem(db, walk, start, legacy.seq if legacy else 0, head_file, head, public)
    if problem:
        return Verdict(False, walk.checked, walk.head_seq, walk.head_hash, reason=problem)
    walk.signed_head = head.seq if head else None
    return walk
