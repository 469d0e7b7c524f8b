"""`Store`: the kiosk's people database, its event log and its audit ledger behind one object.

Every method is blocking; the daemon calls them from worker threads (see `database.py` for the
thread rule). Every local change to a person bumps its fleet version and, after the commit,
calls the change hooks with the person id; every use of face data appends an audit record in the
same transaction as the change it records.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from . import audit as ledger
from . import audit_verify
from . import events as eventlog
from . import persons as rows
from .audit_head import HeadFile, SignedHead, default_head_path
from .cipher import Cipher
from .clock import normalise_iso, to_utc_iso, utc_now
from .consent import Consent, parse_consent
from .database import Database
from .errors import ConsentError, PersonNotFound, RecordError, StoreError, TemplateKeyError
from .fleet import MAX_COUNTER, decode_embedding, encode_embedding, parse_record
from .keys import TEMPLATE_KEY, check_key_pair, load_signing_key, read_secret, secret_path
from .persons import ROLES, STATUSES, Person, TemplateInfo
from .signing import EventSigner, verify_event
from .state_marker import StateMarker

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ..config import KioskConfig
    from ..config.store import StoreConfig
    from ..types import MatchResult

log = logging.getLogger(__name__)
ChangeHook = Callable[[str], object]   # the result is ignored
_KEY_CHECK = "template_key_check"
_IDENTIFYING = ("employee_no", "name")     # kept out of the audit ledger's detail


@dataclass(frozen=True)
class EnrollResult:
    person_id: str
    template_ids: list[str]
    images_kept: int


@dataclass
class RetentionReport:
    events: int = 0
    images: int = 0
    audit: int = 0
    visitors_expired: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "images": self.images, "audit": self.audit,
                "visitors_expired": list(self.visitors_expired)}


@dataclass(frozen=True)
class MatchAttempt:
    """A 1:N match attempt to audit (record_match_attempt, or with the event that records it)."""
    result: MatchResult
    granted: bool
    model_id: Optional[str] = None
    reasons: tuple[str, ...] = ()
    actor: str = "daemon"


def _finite(value: float) -> Optional[float]:
    return round(float(value), 5) if value is not None and math.isfinite(value) else None


def _time_range(since: Optional[str], until: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    try:
        return (normalise_iso(since) if since else None, normalise_iso(until) if until else None)
    except ValueError as exc:
        raise StoreError(f"time range: {exc}") from None


def _check_size(db: Any, model_id: str, size: int, error: type[StoreError], person_id: Optional[str] = None) -> None:
    """Every template of one model has one size (else the gallery of that model could not be built)."""
    expected = rows.model_dim(db, model_id, exclude_person=person_id)
    if expected is not None and size != expected:
        raise error(f"embedding of {size} values; templates of model {model_id} have {expected}")


def _spaces(model_id: str, spaces: Optional[Sequence[str]], count: int) -> list[str]:
    """One vector space per embedding: `model_id` or a space derived from it (`<model_id>+<suffix>`)."""
    if spaces is None:
        return [model_id] * count
    spaces = list(spaces)
    derived = model_id + rows.SPACE_SEPARATOR
    if len(spaces) != count or any(s != model_id and not s.startswith(derived) for s in spaces):
        raise StoreError(f"template spaces must be {model_id} or {derived}<suffix>, one per embedding")
    return spaces


class Store:
    def __init__(self, database: Path, keys_dir: Path, *, device_id: str = "kiosk-1",
                 config: Optional[StoreConfig] = None, audit_head: Optional[Path] = None) -> None:
        """`audit_head`: the signed head file of the audit ledger (default: next to the database)."""
        from ..config.store import StoreConfig

        self.config = config or StoreConfig()
        self.device_id = device_id
        self.keys_dir = Path(keys_dir)
        self._cipher = Cipher(read_secret(self.keys_dir, TEMPLATE_KEY))
        self._key = load_signing_key(self.keys_dir)      # signs events and audit records
        check_key_pair(self.keys_dir, self._key)         # signing.pub is what verifiers are given
        self.signer = EventSigner(self._key)
        self._head = HeadFile(audit_head or default_head_path(database))
        self._hooks: list[tuple[ChangeHook, bool]] = []
        state = StateMarker(database, self._head)
        marker = state.check_before_open()      # a missing or empty database that was in use is refused
        self._db = Database(database, after_step=self._after_migration)
        try:
            state.bind(self._db, marker)
            self._check_template_key()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, config: KioskConfig) -> Store:
        """The store of a kiosk configuration (database_path, keys_dir, device.id, [store], audit_head_path)."""
        return cls(config.database_path, config.keys_dir, device_id=config.device.id, config=config.store,
                   audit_head=config.audit_head_path)

    def _after_migration(self, version: int, db: Any) -> None:
        if version == 3:        # audit records are signed from now on: sign where the unsigned ones end
            ledger.seal_legacy(db, self._key)

    @property
    def path(self) -> Path:
        return self._db.path

    def check_writable(self) -> None:
        """StoreError when the database cannot be written (read-only, immutable, full): nothing could be recorded."""
        self._db.check_writable()

    def check_integrity(self) -> None:
        """`PRAGMA integrity_check` over the whole file (selftest); StoreError naming the first problem."""
        self._db.integrity_check()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_template_key(self) -> None:
        with self._db.write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", [_KEY_CHECK]).fetchone()
            if row is None:
                if db.execute("SELECT COUNT(*) FROM templates").fetchone()[0]:
                    raise TemplateKeyError(f"{self.path} has templates but no key check: cannot tell whether "
                                           f"{self.keys_dir / TEMPLATE_KEY} is its key")
                nonce, ciphertext = self._cipher.key_check()
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [_KEY_CHECK, nonce + ciphertext])
                return
        if not self._cipher.verify_key_check(row[0][:12], row[0][12:]):
            raise TemplateKeyError(f"{secret_path(self.keys_dir, TEMPLATE_KEY)} is not the key of {self.path} "
                                   "(the database was made with another template key)")

    # -- change hooks ------------------------------------------------------------------------------

    def subscribe(self, hook: ChangeHook, *, include_remote: bool = False) -> Callable[[], None]:
        """Call `hook(person_id)` after every local change to a person (enroll, edit, delete, expiry,
        re-embed); with include_remote also after an applied fleet record (for the matcher).
        Hooks run in the thread that made the change; exceptions are logged, not raised.
        Returns a function that unsubscribes."""
        entry = (hook, include_remote)
        self._hooks.append(entry)
        return lambda: self._hooks.remove(entry) if entry in self._hooks else None

    def _changed(self, person_id: str, *, remote: bool = False) -> None:
        for hook, include_remote in list(self._hooks):
            if remote and not include_remote:
                continue
            try:
                hook(person_id)
            except Exception:
                log.exception("change hook %r failed for person %s", hook, person_id)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction; once it is committed, the signed audit head moves to the records it appended."""
        with self._db.write() as db:
            before = ledger.head(db)
            yield db
            after = ledger.head(db)
        if after != before:
            try:
                self._head.advance(self._key, *after)
            except (OSError, StoreError) as exc:     # the record is committed; only the head lags behind it
                log.error("audit: the signed head %s was not moved to record #%d: %s", self._head.path, after[0], exc)

    def _append(self, db: Any, action: str, actor: str, **fields: Any) -> dict[str, Any]:
        """Append a signed audit record inside `_write()`; the head file is created first if missing."""
        self._head.ensure(self._key, *ledger.head(db))
        return ledger.append(db, self._key, action, actor, **fields)

    def _next_version(self, db: Any) -> tuple[int, str]:
        """One above the highest counter within the bound; counters beyond it (applied before the bound existed)
        are ignored, so they cannot make every local change overflow SQLite's INTEGER."""
        highest = db.execute("SELECT COALESCE(MAX(version_counter), 0) FROM persons WHERE version_counter <= ?",
                             [MAX_COUNTER]).fetchone()[0]
        if highest >= MAX_COUNTER:
            raise StoreError(f"the fleet version counter reached its bound {MAX_COUNTER}")
        return int(highest) + 1, self.device_id

    def _bump_version(self, db: Any, person_id: str) -> None:
        """A new fleet version for the person's current row (read inside the caller's write transaction)."""
        current = rows.get_person(db, person_id)
        if current is None or current.deleted:
            raise PersonNotFound(f"person '{person_id}' was erased meanwhile")
        rows.write_person(db, person_id, current.record(), self._next_version(db))

    # -- persons -----------------------------------------------------------------------------------

    def person(self, ref: str) -> Person:
        """The live person with this person id or employee number."""
        found = rows.find_live(self._db.db(), ref)
        if not found:
            raise PersonNotFound(f"no person with id or employee number '{ref}'")
        if len(found) > 1:
            raise StoreError(f"employee number '{ref}' belongs to {len(found)} persons; use the person id")
        return found[0]

    def person_by_id(self, person_id: str) -> Optional[Person]:
        """Any person row, tombstones included (None when unknown)."""
        return rows.get_person(self._db.db(), person_id)

    def persons(self, *, role: Optional[str] = None, include_deleted: bool = False,
                needs_reenrollment: Optional[bool] = None) -> list[Person]:
        return rows.list_persons(self._db.db(), role=role, include_deleted=include_deleted,
                                 needs_reenrollment=needs_reenrollment)

    def version_high_water(self) -> int:
        """The highest person version counter: every change, by any process, raises it."""
        return int(self._db.db().execute("SELECT COALESCE(MAX(version_counter), 0) FROM persons WHERE "
                                         "version_counter <= ?", [MAX_COUNTER]).fetchone()[0])

    def persons_changed_since(self, counter: int) -> list[Person]:
        """Persons, erased ones included, changed after `version_high_water()` returned `counter` (by this
        process or another one, e.g. the CLI while the daemon runs)."""
        return rows.list_persons(self._db.db(), include_deleted=True, version_above=counter)

    def consent(self, person_id: str) -> Optional[Consent]:
        return rows.current_consent(self._db.db(), person_id)

    def view_consent(self, ref: str, *, actor: str = "system") -> dict[str, Any]:
        """A person and their consent records, oldest first (the last is in force); audited as a 'view'."""
        person = self.person(ref)
        with self._write() as db:
            history = rows.consent_history(db, person.person_id)
            self._append(db, "view", actor, person_id=person.person_id, detail={"what": "consent"})
        return {"person": person.as_dict(),
                "consents": [{**c.record(), "minor": c.minor, "recorded_at": at} for c, at in history]}

    def withdraw_fleet_consent(self, ref: str, *, actor: str = "system", reason: Optional[str] = None) -> Consent:
        """Take 'fleet' out of the person's consent, keeping the local enrollment: a new consent record (the
        old one stays as history), a new fleet version, and from then on `export_person_record` gives a
        tombstone, so fleet sync has every other kiosk erase the person. ConsentError when the consent in
        force has no 'fleet'."""
        person = self.person(ref)
        with self._write() as db:
            current = rows.current_consent(db, person.person_id)
            if current is None or not current.allows_fleet:
                raise ConsentError(f"the consent of '{ref}' does not include 'fleet': nothing to withdraw")
            narrowed = current.model_copy(update={"consent_id": rows.new_id(),
                                                  "scope": tuple(s for s in current.scope if s != "fleet")})
            rows.add_consent(db, person.person_id, narrowed)
            self._bump_version(db, person.person_id)
            self._append(db, "consent_withdraw", actor, person_id=person.person_id, outcome="fleet",
                          detail={"withdrawn": ["fleet"], "consent_id": narrowed.consent_id,
                                  "replaces": current.consent_id, "scope": list(narrowed.scope),
                                  **({"reason": reason} if reason else {})})
        self._changed(person.person_id)
        return narrowed

    def templates(self, person_id: str) -> list[TemplateInfo]:
        return rows.template_infos(self._db.db(), person_id)

    @staticmethod
    def _check_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(fields)
        if out.get("role") not in ROLES:
            raise StoreError(f"role {out.get('role')!r} must be one of {', '.join(ROLES)}")
        if out.get("status") not in STATUSES:
            raise StoreError(f"status {out.get('status')!r} must be one of {', '.join(STATUSES)}")
        for key in ("employee_no", "name"):
            if not isinstance(out.get(key), str) or not out[key].strip():
                raise StoreError(f"{key} must not be empty")
            out[key] = out[key].strip()
        for key in ("valid_from", "valid_to"):
            if out.get(key):
                try:
                    out[key] = normalise_iso(out[key])
                except ValueError as exc:
                    raise StoreError(f"{key}: {exc}") from None
        if out.get("valid_from") and out.get("valid_to") and out["valid_from"] >= out["valid_to"]:
            raise StoreError(f"valid_to {out['valid_to']} is not after valid_from {out['valid_from']}")
        if out["role"] == "visitor" and not out.get("valid_to"):
            raise StoreError("a visitor needs valid_to (visitors expire by themselves)")
        return out

    def add_person(self, *, employee_no: str, name: str, role: str, valid_from: Optional[str] = None,
                   valid_to: Optional[str] = None, schedule: Optional[str] = None, status: str = "active",
                   actor: str = "system") -> Person:
        fields = self._check_fields({"employee_no": employee_no, "name": name, "role": role, "valid_from": valid_from,
                                     "valid_to": valid_to, "schedule": schedule, "status": status})
        person_id = rows.new_id()
        with self._write() as db:
            if rows.find_live(db, fields["employee_no"]):
                raise StoreError(f"employee number '{fields['employee_no']}' is already enrolled")
            rows.write_person(db, person_id, fields, self._next_version(db))
            self._append(db, "person_add", actor, person_id=person_id, detail={"role": role})
        self._changed(person_id)
        return self.person(person_id)

    def update_person(self, ref: str, *, actor: str = "system", outcome: Optional[str] = None,
                      reason: Optional[str] = None, **changes: Any) -> Person:
        """Change person fields (employee_no, name, role, valid_from, valid_to, schedule, status). Audited as
        'person_update' with the fields changed, the new values of those that do not identify the person (all
        but name and employee number), `outcome` (e.g. 'suspended') and `reason`."""
        unknown = set(changes) - set(rows.PERSON_FIELDS)
        if unknown:
            raise StoreError(f"unknown person field {sorted(unknown)[0]!r}")
        if not changes:
            raise StoreError("nothing to change")
        person = self.person(ref)
        with self._write() as db:
            current = rows.get_person(db, person.person_id)
            if current is None or current.deleted:
                raise PersonNotFound(f"person '{ref}' was erased meanwhile")
            fields = self._check_fields({**current.record(), **changes})
            if fields["employee_no"] != current.employee_no and rows.find_live(db, fields["employee_no"]):
                raise StoreError(f"employee number '{fields['employee_no']}' is already enrolled")
            rows.write_person(db, person.person_id, fields, self._next_version(db))
            detail: dict[str, Any] = {"fields": sorted(changes),
                                      **{k: fields[k] for k in sorted(changes) if k not in _IDENTIFYING}}
            if reason:
                detail["reason"] = reason
            self._append(db, "person_update", actor, person_id=person.person_id, outcome=outcome, detail=detail)
        self._changed(person.person_id)
        return self.person(person.person_id)

    def view_person(self, ref: str, *, actor: str = "system") -> dict[str, Any]:
        """Everything held about a person except the face data itself; audited as a 'view'."""
        person = self.person(ref)
        consent = self.consent(person.person_id)
        with self._write() as db:
            images = rows.count_rows(db, "images", person.person_id)
            self._append(db, "view", actor, person_id=person.person_id, detail={"what": "person record"})
        return {"person": person.as_dict(), "consent": consent.record() if consent else None,
                "templates": [t.__dict__ for t in self.templates(person.person_id)], "images_kept": images}

    # -- enrollment --------------------------------------------------------------------------------

    def enroll(self, person_id: str, embeddings: Sequence[np.ndarray], *, model_id: str,
               consent: Consent | Mapping[str, Any] | None, qualities: Optional[Sequence[Optional[float]]] = None,
               images: Sequence[tuple[bytes, str]] = (), source: str = "files",
               max_templates: Optional[int] = None, kinds: Optional[Sequence[str]] = None,
               spaces: Optional[Sequence[str]] = None, actor: str = "system") -> EnrollResult:
        """Store templates (and, where configured and consented, the source images) for a live person.

        Refused (ConsentError) without a valid consent record. `images` are (encoded bytes, media type)
        and are dropped unless store.keep_source_images is set and the consent scope has keep_images.
        With `max_templates`, the person's oldest photo templates of `model_id` beyond that many are removed,
        with their synthetic-mask templates, in the same transaction (the new ones are the newest).
        `kinds` says per embedding what it was made from (persons.TEMPLATE_KINDS; default all 'face'), `spaces`
        its vector space: `model_id` (the default) or one derived from it (`<model_id>+upper`). Store each photo's
        derived templates right after its own, so that the cap removes them with it.
        """
        if consent is None:
            raise ConsentError("enrollment refused: no consent record (who, when, notice version, how)")
        consent = parse_consent(consent)
        if not embeddings:
            raise StoreError("nothing to enroll: no embedding")
        vectors = [np.asarray(e, dtype=np.float32).reshape(-1) for e in embeddings]
        if len({v.size for v in vectors}) != 1 or not all(np.all(np.isfinite(v)) for v in vectors):
            raise StoreError("embeddings must be finite vectors of one size")
        qualities = list(qualities) if qualities is not None else [None] * len(vectors)
        kinds = list(kinds) if kinds is not None else ["face"] * len(vectors)
        if len(kinds) != len(vectors) or not set(kinds) <= set(rows.TEMPLATE_KINDS):
            raise StoreError(f"template kinds {sorted(set(kinds))} must be one of {', '.join(rows.TEMPLATE_KINDS)}, "
                             "one per embedding")
        spaces = _spaces(model_id, spaces, len(vectors))
        keep = self.config.keep_source_images and consent.allows_keep_images
        person = self.person(person_id)
        with self._write() as db:
            for space in sorted(set(spaces)):
                _check_size(db, space, vectors[0].size, StoreError)
            rows.add_consent(db, person.person_id, consent)
            template_ids = [rows.add_template(db, self._cipher, person.person_id, v, space, q, kind=k)
                            for v, q, k, space in zip(vectors, qualities, kinds, spaces, strict=True)]
            dropped = rows.drop_oldest_templates(db, person.person_id, model_id, max_templates) \
                if max_templates is not None else 0
            kept = [rows.add_image(db, self._cipher, person.person_id, data, media) for data, media in images] \
                if keep else []
            rows.set_needs_reenrollment(db, person.person_id, False)
            self._bump_version(db, person.person_id)
            self._append(db, "enroll", actor, person_id=person.person_id, outcome="enrolled",
                          detail={"model_id": model_id, "templates": len(template_ids), "templates_dropped": dropped,
                                  "masked_templates": kinds.count("masked"),
                                  "upper_templates": kinds.count("upper"), "images_kept": len(kept),
                                  "consent_id": consent.consent_id, "scope": list(consent.scope), "source": source})
        self._changed(person.person_id)
        return EnrollResult(person.person_id, template_ids, len(kept))

    def load_templates(self, model_id: str, person_ids: Optional[Sequence[str]] = None
                       ) -> tuple[list[str], list[str], np.ndarray]:
        """(template ids, person ids, float32 n x d matrix) of live persons' templates of one model."""
        return rows.decrypt_templates(self._db.db(), self._cipher, model_id, person_ids)

    def person_images(self, person_id: str) -> list[bytes]:
        """Kept source images of a person (decrypted); for re-embedding only."""
        return rows.images_of(self._db.db(), self._cipher, person_id)

    def replace_templates(self, person_id: str, embeddings: Sequence[np.ndarray], *, model_id: str,
                          qualities: Optional[Sequence[Optional[float]]] = None, prune_other_models: bool = False,
                          kinds: Optional[Sequence[str]] = None, spaces: Optional[Sequence[str]] = None,
                          actor: str = "system") -> list[str]:
        """Re-embedding after a model change: new templates of `model_id` replace the old ones of that model.
        `spaces` as for `enroll`: the old templates of every space given are replaced too."""
        person = self.person(person_id)
        qualities = list(qualities) if qualities is not None else [None] * len(embeddings)
        kinds = list(kinds) if kinds is not None else ["face"] * len(embeddings)
        spaces = _spaces(model_id, spaces, len(embeddings))
        with self._write() as db:
            for space in sorted(set(spaces) | {model_id}):
                db.execute("DELETE FROM templates WHERE person_id = ? AND model_id = ?", [person.person_id, space])
            if prune_other_models:
                rows.delete_templates(db, person.person_id, keep_model=model_id)
            ids = [rows.add_template(db, self._cipher, person.person_id, np.asarray(v, np.float32).reshape(-1),
                                     space, q, kind=k)
                   for v, q, k, space in zip(embeddings, qualities, kinds, spaces, strict=True)]
            rows.set_needs_reenrollment(db, person.person_id, False)
            self._bump_version(db, person.person_id)
            self._append(db, "reembed", actor, person_id=person.person_id, outcome="reembedded",
                          detail={"model_id": model_id, "templates": len(ids), "pruned_other_models": prune_other_models})
        self._changed(person.person_id)
        return ids

    def prune_templates(self, person_id: str, *, keep_model: str, actor: str = "system") -> int:
        """Remove a person's templates of every model but `keep_model` (data minimisation after a model change)."""
        person = self.person(person_id)
        with self._write() as db:
            removed = rows.delete_templates(db, person.person_id, keep_model=keep_model)
            if not removed:
                return 0
            self._bump_version(db, person.person_id)
            self._append(db, "reembed", actor, person_id=person.person_id, outcome="pruned",
                          detail={"kept_model": keep_model, "removed": removed})
        self._changed(person.person_id)
        return removed

    def mark_needs_reenrollment(self, person_id: str, *, model_id: str, actor: str = "system") -> None:
        with self._write() as db:
            rows.set_needs_reenrollment(db, person_id, True)
            self._append(db, "reembed", actor, person_id=person_id, outcome="needs_reenrollment",
                          detail={"model_id": model_id})

    # -- erasure -----------------------------------------------------------------------------------

    def delete_person(self, ref: str, *, actor: str = "system", reason: str = "request") -> Person:
        """Erase a person at once: templates, kept images and consent go, the row becomes a tombstone
        (no name, no employee number) with a new fleet version, and the WAL is checkpointed so no
        erased page lingers in it (secure_delete zeroes freed pages in the file)."""
        person = self.person(ref)
        with self._write() as db:
            counts = rows.erase_face_data(db, [person.person_id])
            rows.write_person(db, person.person_id, {}, self._next_version(db), deleted=True)
            self._append(db, "delete", actor, person_id=person.person_id, outcome="erased",
                          detail={**counts, "reason": reason})
        self._db.checkpoint()
        self._changed(person.person_id)
        return rows.get_person(self._db.db(), person.person_id)  # type: ignore[return-value]

    # -- audit -------------------------------------------------------------------------------------

    def audit(self, action: str, *, actor: str = "system", person_id: Optional[str] = None,
              outcome: Optional[str] = None, detail: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
        """Append one audit record (e.g. action='config_change', 'command', 'view', 'export')."""
        with self._write() as db:
            return self._append(db, action, actor, person_id=person_id, outcome=outcome, detail=detail)

    def record_match_attempt(self, result: MatchResult, *, granted: bool, model_id: Optional[str] = None,
                             event_id: Optional[str] = None, reasons: Sequence[str] = (),
                             actor: str = "daemon") -> dict[str, Any]:
        """Audit one 1:N match attempt, granted or not (person_id = the best candidate within the threshold)."""
        attempt = MatchAttempt(result, granted, model_id, tuple(reasons), actor)
        with self._write() as db:
            return self._append_match(db, attempt, event_id)

    def _append_match(self, db: Any, attempt: MatchAttempt, event_id: Optional[str]) -> dict[str, Any]:
        result = attempt.result
        return self._append(db, "match", attempt.actor, person_id=result.person_id,
                            outcome="granted" if attempt.granted else "denied",
                            detail={"distance": _finite(result.distance), "margin": _finite(result.margin),
                                    "threshold": _finite(result.threshold), "model_id": attempt.model_id,
                                    "event_id": event_id, "reasons": list(attempt.reasons)})

    def verify_audit(self, public_key: Optional[Ed25519PublicKey] = None) -> audit_verify.Verdict:
        """Check the ledger (chain, signatures, anchor, signed head) under `public_key` (default: this device's)."""
        return audit_verify.verify(self._db.db(), public_key or self.signer.public_key, self._head)

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest audit record in the database."""
        return ledger.head(self._db.db())

    @property
    def audit_head_path(self) -> Path:
        return self._head.path

    def signed_audit_head(self) -> Optional[SignedHead]:
        """The signed head file (None before the first record); HeadFileError when it is not a head."""
        return self._head.read()

    def audit_records(self, *, since: Optional[str] = None, until: Optional[str] = None) -> list[dict[str, Any]]:
        """Stored audit records with since <= time < until, in chain order (detail as canonical JSON text)."""
        return ledger.select(self._db.db(), *_time_range(since, until))

    def audit_has_hash(self, record_hash: str) -> bool:
        """Whether a record with this hash is still in the ledger (check a head kept off-device)."""
        return self._db.db().execute("SELECT 1 FROM audit WHERE hash = ?", [record_hash]).fetchone() is not None

    def export_audit(self, *, since: Optional[str] = None, until: Optional[str] = None, fmt: str = "json",
                     actor: str = "system") -> str:
        """Audit records with since <= time < until as CSV or JSON; the export itself is audited."""
        since_n, until_n = _time_range(since, until)
        records = ledger.select(self._db.db(), since_n, until_n)
        self.audit("export", actor=actor, detail={"what": "audit", "format": fmt, "since": since_n,
                                                  "until": until_n, "records": len(records)})
        if fmt == "csv":
            return ledger.to_csv(records)
        if fmt != "json":
            raise StoreError(f"unknown export format {fmt!r} (csv or json)")
        return ledger.to_json(records, {"device_id": self.device_id, "exported_at": to_utc_iso(utc_now()),
                                        "since": since_n, "until": until_n,
                                        "verify": "each hash = sha256(prev_hash || canonical JSON of seq, at, action, "
                                                  "actor, person_id, outcome, detail); each signature = Ed25519 "
                                                  "by the device key over 'kiosk-audit/1 record <seq> <hash>'"})

    # -- events ------------------------------------------------------------------------------------

    def sign_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The event (docs/contracts.md section 1) with its Ed25519 signature; RecordError if malformed."""
        eventlog.check_event(event)
        return self.signer.sign(event)

    def record_event(self, event: Mapping[str, Any], match: Optional[MatchAttempt] = None) -> dict[str, Any]:
        """Number, sign and store an event; returns the signed dict as stored.

        The store assigns the per-device `seq` (docs/contracts.md section 1) in the transaction that stores
        the event, before signing, so it is part of the signed content. `match`, the 1:N match attempt the
        event records, is audited in the same transaction: both are kept or neither. An event already
        validly signed by this device is stored as it is (with its own `seq` when it has one). Recording an
        event_id that is already stored returns the stored copy and claims no number."""
        given = dict(event)
        presigned = verify_event(given, [self.signer.public_key]) is None
        eventlog.check_event(given)
        # Only a match record moves the audit head (which `_write` then re-signs): plain events skip that check.
        with (self._write() if match is not None else self._db.write()) as db:
            existing = eventlog.stored(db, given["event_id"])
            if existing is not None:
                return existing
            if presigned:
                signed = given
                seq = given["seq"] if "seq" in given else eventlog.next_seq(db)
            else:
                seq = eventlog.next_seq(db)
                signed = self.sign_event({**{k: v for k, v in given.items() if k != "signature"}, "seq": seq})
            if not eventlog.insert(db, signed, seq):
                raise RecordError(f"event seq {seq} is already taken by another event")
            if match is not None:
                self._append_match(db, match, signed["event_id"])
        return signed

    def signed_events(self, *, since: Optional[str] = None, types: Optional[list[str]] = None,
                      limit: Optional[int] = None) -> list[dict[str, Any]]:
        """Stored events whose signature verifies under this device's key (what derived files, the MQTT
        outbox and the attendance ledger, are rebuilt from); others are left out with a warning."""
        events = self.events(since=since, types=types, limit=limit)
        good = [e for e in events if verify_event(e, [self.signer.public_key]) is None]
        if len(good) < len(events):
            log.warning("%s: %d stored events do not verify under the device key and were not used",
                        self.path, len(events) - len(good))
        return good

    def events_from(self, seq: int, limit: int) -> dict[str, Any]:
        """One page of the local log by sequence number, for HR's gap pull (`events_since`, `events replay`):
        `events` (signed, seq >= `seq`, at most `limit`), `next_seq` (ask for this next), `last_seq` (the
        newest number assigned), `first_seq` (the oldest still kept: lower ones were purged by retention)."""
        if seq < 1 or limit < 1:
            raise StoreError("seq and limit must be at least 1")
        db = self._db.db()
        page = eventlog.from_seq(db, seq, limit)
        last = eventlog.last_seq(db)
        return {"events": [e for _, e in page], "next_seq": page[-1][0] + 1 if page else max(seq, last + 1),
                "last_seq": last, "first_seq": eventlog.first_seq(db)}

    def outbox_page(self, seq: int, limit: int) -> dict[str, Any]:
        """For the MQTT outbox's reconciler (kiosk/mqtt/reconcile.py): `events`, the stored events with
        seq >= `seq` (at most `limit`, in seq order) whose signature verifies under this device's key, and
        `through`, the highest seq read (None when the log has nothing from `seq` on)."""
        page = eventlog.from_seq(self._db.db(), seq, limit)
        if not page:
            return {"events": [], "through": None}
        good = [e for _, e in page if verify_event(e, [self.signer.public_key]) is None]
        return {"events": good, "through": page[-1][0]}

    def last_event_seq(self) -> int:
        """The newest event number assigned (0 before the first event)."""
        return eventlog.last_seq(self._db.db())

    def first_event_seq_since(self, since: str) -> Optional[int]:
        """The lowest seq of the events with device time (UTC) >= `since`, or None."""
        row = self._db.db().execute("SELECT MIN(seq) FROM events WHERE time_utc >= ?",
                                    [normalise_iso(since)]).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def events(self, *, since: Optional[str] = None, until: Optional[str] = None,
               types: Optional[list[str]] = None, person_id: Optional[str] = None,
               limit: Optional[int] = None) -> list[dict[str, Any]]:
        since, until = _time_range(since, until)
        return eventlog.select(self._db.db(), since=since, until=until, types=types, person_id=person_id, limit=limit)

    # -- retention ---------------------------------------------------------------------------------

    def purge_expired(self, now: Optional[datetime] = None, *, actor: str = "retention") -> RetentionReport:
        """One retention pass; the daemon calls it every store.retention_interval_s (from a worker thread).

        Removes events older than event_retention_days, kept images older than image_retention_days,
        audit records older than audit_retention_days (never younger ones), and erases visitors whose
        validity ended (tombstones, like `delete_person`)."""
        now = now or utc_now()
        cfg = self.config
        report = RetentionReport()
        for person in self.persons(role="visitor"):
            if person.valid_to and normalise_iso(person.valid_to) <= to_utc_iso(now):
                self.delete_person(person.person_id, actor=actor, reason="visitor validity ended")
                report.visitors_expired.append(person.person_id)
        with self._write() as db:
            report.events = db.execute("DELETE FROM events WHERE time_utc < ?",
                                       [to_utc_iso(now - timedelta(days=cfg.event_retention_days))]).rowcount
            report.images = db.execute("DELETE FROM images WHERE created < ?",
                                       [to_utc_iso(now - timedelta(days=cfg.image_retention_days))]).rowcount
            report.audit = ledger.purge_before(db, to_utc_iso(now - timedelta(days=cfg.audit_retention_days)),
                                               self._key)
            if report.events or report.images or report.audit or report.visitors_expired:
                self._append(db, "retention", actor, outcome="purged", detail=report.as_dict())
        if report.events or report.images:
            self._db.checkpoint()
        return report

    # -- fleet (docs/contracts.md section 2) ------------------------------------------------------------

    def export_person_record(self, person_id: str, *, actor: str = "fleet") -> Optional[dict[str, Any]]:
        """The fleet record of a person: a tombstone when erased or when the 'fleet' scope of the person's
        consent was withdrawn (the other kiosks erase the person, this one keeps them), None when the consent
        never included 'fleet' (such persons never leave this kiosk). Exports with templates are audited."""
        person = self.person_by_id(person_id)
        if person is None:
            raise PersonNotFound(f"no person with id '{person_id}'")
        version = {"counter": person.version_counter, "device": person.version_device}
        tombstone = {"person_id": person_id, "version": version, "deleted": True, "person": None, "consent": None,
                     "templates": []}
        if person.deleted:
            return tombstone
        consent = self.consent(person_id)
        if consent is None or not consent.allows_fleet:
            return tombstone if rows.was_shared(self._db.db(), person_id) else None
        db = self._db.db()
        templates = [{"model_id": t["model_id"], "embedding_b64": encode_embedding(t["embedding"]),
                      "quality": t["quality"], "created": t["created"]}
                     for t in rows.template_records(db, self._cipher, person_id)]
        self.audit("export", actor=actor, person_id=person_id,
                   detail={"what": "fleet record", "version": version, "templates": len(templates)})
        return {"person_id": person_id, "version": version, "deleted": False, "person": person.record(),
                "consent": consent.record(), "templates": templates}

    def all_person_records(self, *, actor: str = "fleet") -> Iterator[dict[str, Any]]:
        """Every shareable record: fleet-consented persons and all tombstones."""
        for person in self.persons(include_deleted=True):
            record = self.export_person_record(person.person_id, actor=actor)
            if record is not None:
                yield record

    def apply_person_record(self, record: Mapping[str, Any], *, actor: str = "fleet") -> bool:
        """Apply a record from another kiosk iff its (counter, device) is greater than the local version.
        A tombstone erases the person's face data at once. RecordError when malformed."""
        parsed = parse_record(dict(record))
        incoming = parsed.version.key()
        consent: Optional[Consent] = None
        templates: list[tuple[np.ndarray, Any]] = []
        if not parsed.deleted:
            try:
                consent = parse_consent(parsed.consent)
            except ConsentError as exc:
                raise RecordError(f"fleet record {exc}") from None
            if not consent.allows_fleet:
                raise RecordError("fleet record consent scope has no 'fleet': the person may not be shared")
            templates = [(decode_embedding(t.embedding_b64), t) for t in parsed.templates]
            sizes = {(t.model_id, v.size) for v, t in templates}
            if len(sizes) != len({model for model, _ in sizes}):
                raise RecordError("fleet record templates of one model have different sizes")
        with self._write() as db:
            local = rows.get_person(db, parsed.person_id)
            if local is not None and (local.version_counter, local.version_device) >= incoming:
                return False
            for vector, t in templates:
                _check_size(db, t.model_id, vector.size, RecordError, parsed.person_id)
            if parsed.deleted:
                counts = rows.erase_face_data(db, [parsed.person_id])
                rows.write_person(db, parsed.person_id, {}, incoming, deleted=True)
            else:
                assert parsed.person is not None and consent is not None
                counts = {"templates": rows.delete_templates(db, parsed.person_id)}
                rows.write_person(db, parsed.person_id, parsed.person.model_dump(), incoming)
                db.execute("DELETE FROM consents WHERE person_id = ?", [parsed.person_id])
                rows.add_consent(db, parsed.person_id, consent)
                if not consent.allows_keep_images:
                    db.execute("DELETE FROM images WHERE person_id = ?", [parsed.person_id])
                for vector, t in templates:
                    rows.add_template(db, self._cipher, parsed.person_id, vector, t.model_id, t.quality, t.created)
            self._append(db, "fleet_apply", actor, person_id=parsed.person_id,
                          outcome="erased" if parsed.deleted else "applied",
                          detail={"version": {"counter": incoming[0], "device": incoming[1]},
                                  "templates": len(templates), "replaced": counts})
        if parsed.deleted:
            self._db.checkpoint()
        self._changed(parsed.person_id, remote=True)
        return True
