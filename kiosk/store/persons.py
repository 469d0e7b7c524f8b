"""Rows of people: persons, their consent, encrypted templates and kept source images.

Functions here take an open `sqlite_utils.Database` (inside `Database.write()` for changes) and
a `Cipher`; auditing, versioning and change hooks are the `Store`'s job.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Optional

import numpy as np
import sqlite_utils

from .cipher import Cipher, embedding_from_bytes, embedding_to_bytes, image_aad, template_aad
from .clock import parse_iso, to_utc_iso, utc_now
from .consent import Consent, parse_consent

ROLES = ("staff", "visitor")
STATUSES = ("active", "suspended")
# What a template was made from: a photo as taken, the photo with a synthetic mask drawn on, or the photo's upper
# face (lower face greyed out; stored in the model's upper-face space `<model_id>+upper`). See kiosk.face.masked.
TEMPLATE_KINDS = ("face", "masked", "upper")
# A model's derived vector spaces (the upper-face space) are named `<model_id>+<suffix>`: their templates belong
# to the model's photos and go with them.
SPACE_SEPARATOR = "+"
PERSON_FIELDS = ("employee_no", "name", "role", "valid_from", "valid_to", "schedule", "status")


@dataclass(frozen=True)
class Person:
    person_id: str
    employee_no: Optional[str]
    name: Optional[str]
    role: Optional[str]
    valid_from: Optional[str]
    valid_to: Optional[str]
    schedule: Optional[str]
    status: Optional[str]
    needs_reenrollment: bool
    deleted: bool
    version_counter: int
    version_device: str
    created: str
    updated: str

    def is_valid_at(self, moment: datetime) -> bool:
        """Live, active and inside its validity window (visitors expire by themselves)."""
        if self.deleted or self.status != "active":
            return False
        if self.valid_from and moment < parse_iso(self.valid_from):
            return False
        return not (self.valid_to and moment >= parse_iso(self.valid_to))

    def record(self) -> dict[str, Any]:
        """The person part of a fleet record / event (docs/contracts.md sections 1 and 2)."""
        return {k: getattr(self, k) for k in PERSON_FIELDS}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TemplateInfo:
    template_id: str
    model_id: str
    quality: Optional[float]
    created: str
    kind: str = "face"            # TEMPLATE_KINDS


def new_id() -> str:
    return uuid.uuid4().hex


def _person(row: dict[str, Any]) -> Person:
    return Person(**{**row, "needs_reenrollment": bool(row["needs_reenrollment"]), "deleted": bool(row["deleted"])})


def get_person(db: sqlite_utils.Database, person_id: str) -> Optional[Person]:
    rows = list(db.query("SELECT * FROM persons WHERE person_id = ?", [person_id]))
    return _person(rows[0]) if rows else None


def find_live(db: sqlite_utils.Database, ref: str) -> list[Person]:
    """Live persons whose id or employee number is `ref`."""
    return [_person(r) for r in db.query(
        "SELECT * FROM persons WHERE deleted = 0 AND (person_id = ? OR employee_no = ?)", [ref, ref])]


def list_persons(db: sqlite_utils.Database, *, role: Optional[str] = None, include_deleted: bool = False,
                 needs_reenrollment: Optional[bool] = None, version_above: Optional[int] = None) -> list[Person]:
    where: list[str] = []
    params: list[Any] = []
    if version_above is not None:
        where.append("version_counter > ?")
        params.append(version_above)
    if not include_deleted:
        where.append("deleted = 0")
    if role:
        where.append("role = ?")
        params.append(role)
    if needs_reenrollment is not None:
        where.append("needs_reenrollment = ?")
        params.append(int(needs_reenrollment))
    sql = f"SELECT * FROM persons {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY employee_no, person_id"
    return [_person(r) for r in db.query(sql, params)]


def write_person(db: sqlite_utils.Database, person_id: str, fields: dict[str, Any], version: tuple[int, str],
                 *, deleted: bool = False) -> None:
    """Insert or replace the person row with `fields` (PERSON_FIELDS) at `version`."""
    now = to_utc_iso(utc_now())
    existing = get_person(db, person_id)
    row = {"person_id": person_id, **{k: fields.get(k) for k in PERSON_FIELDS},
           "needs_reenrollment": int(existing.needs_reenrollment) if existing and not deleted else 0,
           "deleted": int(deleted), "version_counter": version[0], "version_device": version[1],
           "created": existing.created if existing else now, "updated": now}
    db.table("persons").upsert(row, pk="person_id")


def set_needs_reenrollment(db: sqlite_utils.Database, person_id: str, flag: bool) -> None:
    db.execute("UPDATE persons SET needs_reenrollment = ? WHERE person_id = ?", [int(flag), person_id])


# -- consent -----------------------------------------------------------------------------------------

def add_consent(db: sqlite_utils.Database, person_id: str, consent: Consent) -> None:
    db.table("consents").upsert({"consent_id": consent.consent_id, "person_id": person_id,
                                 "given_by": consent.given_by,
                                 "given_at": consent.given_at, "notice_version": consent.notice_version,
                                 "method": consent.method, "guardian": consent.guardian, "minor": int(consent.minor),
                                 "scope": json.dumps(list(consent.scope)), "recorded_at": to_utc_iso(utc_now())},
                                pk="consent_id")


def _consent(row: dict[str, Any]) -> Consent:
    return parse_consent({"consent_id": row["consent_id"], "given_by": row["given_by"], "given_at": row["given_at"],
                          "notice_version": row["notice_version"], "method": row["method"],
                          "guardian": row["guardian"], "minor": bool(row["minor"]),
                          "scope": json.loads(row["scope"])})


def current_consent(db: sqlite_utils.Database, person_id: str) -> Optional[Consent]:
    rows = list(db.query("SELECT * FROM consents WHERE person_id = ? ORDER BY recorded_at DESC, rowid DESC LIMIT 1",
                         [person_id]))
    return _consent(rows[0]) if rows else None


def consent_history(db: sqlite_utils.Database, person_id: str) -> list[tuple[Consent, str]]:
    """Every consent record of the person with the time it was recorded, oldest first (the last is in force)."""
    return [(_consent(row), row["recorded_at"]) for row in db.query(
        "SELECT * FROM consents WHERE person_id = ? ORDER BY recorded_at, rowid", [person_id])]


def was_shared(db: sqlite_utils.Database, person_id: str) -> bool:
    """Whether any consent record of the person, in force or earlier, had the 'fleet' scope."""
    return any(consent.allows_fleet for consent, _ in consent_history(db, person_id))


# -- templates ---------------------------------------------------------------------------------------

def add_template(db: sqlite_utils.Database, cipher: Cipher, person_id: str, embedding: np.ndarray, model_id: str,
                 quality: Optional[float], created: Optional[str] = None, kind: str = "face") -> str:
    if kind not in TEMPLATE_KINDS:
        raise ValueError(f"template kind {kind!r} is not one of {', '.join(TEMPLATE_KINDS)}")
    template_id = new_id()
    nonce, ciphertext = cipher.encrypt(embedding_to_bytes(embedding), template_aad(template_id, person_id, model_id))
    db.execute("INSERT INTO templates (template_id, person_id, model_id, quality, created, nonce, ciphertext, kind) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [template_id, person_id, model_id, None if quality is None else float(quality),
                created or to_utc_iso(utc_now()), nonce, ciphertext, kind])
    return template_id


def model_dim(db: sqlite_utils.Database, model_id: str, exclude_person: Optional[str] = None) -> Optional[int]:
    """Vector size of the stored templates of a model (from the ciphertext length: 4 bytes a value + 16 tag)."""
    row = db.execute("SELECT length(ciphertext) FROM templates WHERE model_id = ? AND person_id != ? LIMIT 1",
                     [model_id, exclude_person or ""]).fetchone()
    return (int(row[0]) - 16) // 4 if row else None


def template_infos(db: sqlite_utils.Database, person_id: str) -> list[TemplateInfo]:
    return [TemplateInfo(**r) for r in db.query(
        "SELECT template_id, model_id, quality, created, kind FROM templates WHERE person_id = ? ORDER BY created",
        [person_id])]


def decrypt_templates(db: sqlite_utils.Database, cipher: Cipher, model_id: str,
                      person_ids: Optional[Sequence[str]] = None) -> tuple[list[str], list[str], np.ndarray]:
    """(template ids, person ids, float32 matrix n x d) of live persons' templates of `model_id`."""
    sql = ("SELECT t.template_id, t.person_id, t.nonce, t.ciphertext FROM templates t "
           "JOIN persons p ON p.person_id = t.person_id WHERE p.deleted = 0 AND t.model_id = ?")
    params: list[Any] = [model_id]
    if person_ids is not None:
        sql += f" AND t.person_id IN ({', '.join('?' * len(person_ids))})"
        params.extend(person_ids)
    rows = db.execute(sql, params).fetchall()
    if not rows:
        return [], [], np.zeros((0, 0), np.float32)
    prefix = "kiosk/template/v1|"
    decrypt = cipher.decrypt
    plain = [decrypt(nonce, ct, f"{prefix}{tid}|{pid}|{model_id}".encode()) for tid, pid, nonce, ct in rows]
    dims = {len(p) for p in plain}
    if len(dims) != 1:
        raise ValueError(f"templates of model {model_id} have mixed sizes {sorted(dims)}")
    matrix = np.frombuffer(b"".join(plain), dtype="<f4").reshape(len(plain), -1).astype(np.float32)
    return [r[0] for r in rows], [r[1] for r in rows], matrix


def template_records(db: sqlite_utils.Database, cipher: Cipher, person_id: str) -> list[dict[str, Any]]:
    """Every template of the person, decrypted: dicts with model_id, embedding, quality, created."""
    out = []
    for row in db.query("SELECT * FROM templates WHERE person_id = ? ORDER BY created, template_id", [person_id]):
        plain = cipher.decrypt(row["nonce"], row["ciphertext"],
                               template_aad(row["template_id"], person_id, row["model_id"]))
        out.append({"model_id": row["model_id"], "embedding": embedding_from_bytes(plain),
                    "quality": row["quality"], "created": row["created"]})
    return out


_MODEL_OR_DERIVED = "(model_id = ? OR substr(model_id, 1, ?) = ?)"


def _model_or_derived(model_id: str) -> list[Any]:
    """Parameters of _MODEL_OR_DERIVED: the model's own templates and those of its derived spaces."""
    prefix = model_id + SPACE_SEPARATOR
    return [model_id, len(prefix), prefix]


def drop_oldest_templates(db: sqlite_utils.Database, person_id: str, model_id: str, keep: int) -> int:
    """Delete a person's templates of one model except the `keep` newest photo templates (kind 'face', insertion
    order) and what was made from them: enrollment stores each photo's synthetic-mask and upper-face templates
    (the latter in a derived space) right after the photo's own, so every row of the model or its derived
    spaces older than the oldest kept photo goes; returns how many."""
    kept = db.execute("SELECT MIN(rowid) FROM (SELECT rowid FROM templates WHERE person_id = ? AND model_id = ? "
                      "AND kind = 'face' ORDER BY rowid DESC LIMIT ?)", [person_id, model_id, keep]).fetchone()[0]
    if kept is None:
        return 0
    return db.execute(f"DELETE FROM templates WHERE person_id = ? AND {_MODEL_OR_DERIVED} AND rowid < ?",
                      [person_id, *_model_or_derived(model_id), kept]).rowcount


def delete_templates(db: sqlite_utils.Database, person_id: str, *, keep_model: Optional[str] = None) -> int:
    """Delete a person's templates, or all but those of `keep_model` and its derived spaces."""
    if keep_model is None:
        return db.execute("DELETE FROM templates WHERE person_id = ?", [person_id]).rowcount
    return db.execute(f"DELETE FROM templates WHERE person_id = ? AND NOT {_MODEL_OR_DERIVED}",
                      [person_id, *_model_or_derived(keep_model)]).rowcount


# -- kept source images ------------------------------------------------------------------------------

def add_image(db: sqlite_utils.Database, cipher: Cipher, person_id: str, data: bytes, media_type: str) -> str:
    image_id = new_id()
    nonce, ciphertext = cipher.encrypt(data, image_aad(image_id, person_id))
    db.execute("INSERT INTO images (image_id, person_id, created, media_type, nonce, ciphertext) "
               "VALUES (?, ?, ?, ?, ?, ?)", [image_id, person_id, to_utc_iso(utc_now()), media_type, nonce, ciphertext])
    return image_id


def images_of(db: sqlite_utils.Database, cipher: Cipher, person_id: str) -> list[bytes]:
    return [cipher.decrypt(r["nonce"], r["ciphertext"], image_aad(r["image_id"], person_id))
            for r in db.query("SELECT * FROM images WHERE person_id = ? ORDER BY created", [person_id])]


def count_rows(db: sqlite_utils.Database, table: str, person_id: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE person_id = ?", [person_id]).fetchone()[0])


def erase_face_data(db: sqlite_utils.Database, person_ids: Iterable[str]) -> dict[str, int]:
    """Remove templates, kept images and consent records of these persons; return the counts."""
    counts = {"templates": 0, "images": 0, "consents": 0}
    for person_id in person_ids:
        for table in counts:
            counts[table] += db.execute(f"DELETE FROM {table} WHERE person_id = ?", [person_id]).rowcount
    return counts
