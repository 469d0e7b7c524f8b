"""The checks a restored state must pass before restore says OK: the database's integrity, the key pair,
the template key against the database, the audit ledger (as `kiosk audit verify`), and the counts of the backup."""
from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization

from ..store import Store, StoreError, load_public_key
from ..store.keys import SIGNING_PUB, key_id, load_signing_key
from . import dbfile
from .archive import BackupError
from .state import StatePaths

COMPARED = ("persons", "erased", "templates", "images", "events", "audit_records")


def _raw(public: Any) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_state(paths: StatePaths, expected: dict[str, Any]) -> list[str]:
    """One line per check passed; BackupError naming the first that fails."""
    result = dbfile.integrity(paths.database)
    if result != "ok":
        raise BackupError(f"database integrity check failed: {result}")
    lines = ["database integrity ok"]
    try:
        public = load_public_key(paths.keys_dir / SIGNING_PUB)
        if _raw(load_signing_key(paths.keys_dir).public_key()) != _raw(public):
            raise BackupError(f"{SIGNING_PUB} is not the public half of the signing key")
        lines.append(f"signing key pair matches (key_id {key_id(public)})")
        with Store(paths.database, paths.keys_dir, audit_head=paths.audit_head) as store:
            lines.append("template key opens the database")
            verdict = store.verify_audit(public)
    except StoreError as exc:
        raise BackupError(str(exc)) from None
    if not verdict.ok:
        raise BackupError(verdict.line())
    lines.append(verdict.line())
    counts = dbfile.file_summary(paths.database)       # after the store applied any migration
    if any(counts.get(k) != expected.get(k) for k in COMPARED):
        raise BackupError(f"the restored database holds {dbfile.describe(counts)}; the backup listed "
                          f"{dbfile.describe(expected)}")
    lines.append(f"{dbfile.describe(counts)}, as in the backup (schema v{counts['schema']})")
    return lines
