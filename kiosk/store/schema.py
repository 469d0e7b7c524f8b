"""Versioned schema migrations. `PRAGMA user_version` holds the applied version; each step also
leaves a row in `schema_migrations`. Steps only ever append: never edit a released step, add one."""
from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import sqlite_utils

from .clock import to_utc_iso, utc_now
from .errors import StoreError


def _v1_initial(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": bytes}, pk="key")
    db.table("persons").create(
        {"person_id": str, "employee_no": str, "name": str, "role": str, "valid_from": str, "valid_to": str,
         "schedule": str, "status": str, "needs_reenrollment": int, "deleted": int, "version_counter": int,
         "version_device": str, "created": str, "updated": str},
        pk="person_id", not_null=["version_counter", "version_device", "created", "updated"],
        defaults={"needs_reenrollment": 0, "deleted": 0})
    db.table("persons").create_index(["employee_no"])
    db.table("consents").create(
        {"consent_id": str, "person_id": str, "given_by": str, "given_at": str, "notice_version": str,
         "method": str, "guardian": str, "minor": int, "scope": str, "recorded_at": str},
        pk="consent_id", foreign_keys=[("person_id", "persons", "person_id")],
        not_null=["person_id", "given_by", "given_at", "notice_version", "method", "scope"])
    db.table("consents").create_index(["person_id"])
    db.table("templates").create(
        {"template_id": str, "person_id": str, "model_id": str, "quality": float, "created": str,
         "nonce": bytes, "ciphertext": bytes},
        pk="template_id", foreign_keys=[("person_id", "persons", "person_id")],
        not_null=["person_id", "model_id", "created", "nonce", "ciphertext"])
    db.table("templates").create_index(["model_id"])
    db.table("templates").create_index(["person_id"])
    db.table("images").create(
        {"image_id": str, "person_id": str, "created": str, "media_type": str, "nonce": bytes, "ciphertext": bytes},
        pk="image_id", foreign_keys=[("person_id", "persons", "person_id")],
        not_null=["person_id", "created", "nonce", "ciphertext"])
    db.table("images").create_index(["person_id"])
    db.table("images").create_index(["created"])
    db.table("events").create(
        {"seq": int, "event_id": str, "type": str, "device_time": str, "time_utc": str, "person_id": str,
         "stored_at": str, "body": str},
        pk="seq", not_null=["event_id", "type", "device_time", "time_utc", "stored_at", "body"])
    db.table("events").create_index(["event_id"], unique=True)
    db.table("events").create_index(["time_utc"])
    db.table("events").create_index(["person_id"])
    db.table("audit").create(
        {"seq": int, "at": str, "action": str, "actor": str, "person_id": str, "outcome": str, "detail": str,
         "prev_hash": str, "hash": str},
        pk="seq", not_null=["at", "action", "actor", "prev_hash", "hash"])
    db.table("audit").create_index(["at"])
    # Guard-rail against accidental edits; the hash chain is what proves integrity.
    db.execute("CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit "
               "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END")


def _v2_template_kind(db: sqlite_utils.Database) -> None:
    # What a template was made from: 'face' (a photo as taken) or 'masked' (the photo with a synthetic mask
    # drawn on, kiosk.face.masked). Existing rows are photos.
    db.execute("ALTER TABLE templates ADD COLUMN kind TEXT NOT NULL DEFAULT 'face'")


def _v3_audit_signature(db: sqlite_utils.Database) -> None:
    # Ed25519 signature of each audit record over (seq, hash); records written before stay NULL (legacy). The
    # store signs where they end in the same transaction (`after_step`, audit.seal_legacy).
    db.execute("ALTER TABLE audit ADD COLUMN signature TEXT")


def _v4_event_seq(db: sqlite_utils.Database) -> None:
    # The per-device event sequence number (docs/contracts.md section 1, `seq`): the last one assigned, kept in
    # `meta` so that a purge of the newest events never lets a number be used twice. Events stored before keep
    # their row numbers (`events.seq`); new events carry theirs inside the signed body too.
    last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('event_seq', ?)", [int(last)])


MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = [
    (1, "persons, consents, encrypted templates and images, signed events, audit ledger", _v1_initial),
    (2, "templates.kind: photo or synthetic-mask template", _v2_template_kind),
    (3, "audit.signature: audit records signed with the device key", _v3_audit_signature),
    (4, "meta.event_seq: per-device event sequence numbers, never reused", _v4_event_seq),
]
LATEST = MIGRATIONS[-1][0]


def current_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


AfterStep = Callable[[int, sqlite_utils.Database], None]


def migrate(db: sqlite_utils.Database, after_step: Optional[AfterStep] = None) -> list[int]:
    """Apply the missing steps, each in its own transaction; return the versions applied.

    `after_step(version, db)` runs inside each step's transaction, for work a step needs the
    store's keys for (signing the end of the unsigned audit records)."""
    applied: list[int] = []
    if "schema_migrations" not in db.table_names():
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for version, description, step in MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")
        try:
            found = current_version(db)
            if found > LATEST:
                raise StoreError(f"database schema v{found} is newer than this software understands (v{LATEST})")
            if found >= version:
                db.execute("ROLLBACK")
                continue
            step(db)
            if after_step is not None:
                after_step(version, db)
            db.execute(f"PRAGMA user_version = {version}")
            db.table("schema_migrations").insert({"version": version, "description": description,
                                                  "applied_at": to_utc_iso(utc_now())})
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise
        applied.append(version)
    return applied
