"""`kiosk backup`: gather the state that matters and seal it under a passphrase."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import KioskConfig
from ..store import Store
from ..store.clock import to_utc_iso, utc_now
from ..store.keys import secret_path
from . import dbfile
from .archive import VERSION, BackupError, check_passphrase, pack, seal
from .state import ATTENDANCE, AUDIT_HEAD, CALIBRATION, DATABASE, KEY_NAMES, MANIFEST, StatePaths

NOT_INCLUDED = ("the models (reinstall them: kiosk models install), the MQTT outbox (undelivered copies of events the "
                "database keeps) and the configuration file (keep a copy of it yourself)")


@dataclass(frozen=True)
class Backup:
    sealed: bytes
    manifest: dict[str, Any]


def _optional(members: dict[str, bytes], name: str, path: Path) -> None:
    if path.is_file():
        members[name] = path.read_bytes()


def collect(config: KioskConfig, passphrase: str, *, actor: str) -> Backup:
    """The sealed archive of `config`'s state. The backup is itself recorded in the audit ledger (it
    copies everyone's face data and the keys), so the archive holds that record too."""
    check_passphrase(passphrase)
    paths = StatePaths.of(config)
    if not paths.database.is_file():
        raise BackupError(f"{paths.database}: no database, nothing to back up")
    with Store.open(config) as store:       # also proves that the keys belong to the database
        store.audit("export", actor=actor, detail={"what": "backup"})
    members: dict[str, bytes] = {}
    # The head file before the database: it only moves forward, after commits, so the copy holds
    # every record the copied head names.
    _optional(members, AUDIT_HEAD, paths.audit_head)
    members[DATABASE], counts = dbfile.copy(paths.database)
    for name in KEY_NAMES:
        _optional(members, f"keys/{name}", secret_path(paths.keys_dir, name))
    if paths.trusted_dir.is_dir():
        for path in sorted(paths.trusted_dir.iterdir()):
            if paths.is_member(f"trusted/{path.name}"):
                _optional(members, f"trusted/{path.name}", path)
    _optional(members, CALIBRATION, paths.calibration)
    _optional(members, ATTENDANCE, paths.attendance)
    manifest = {"format": VERSION, "kiosk_version": __version__, "device_id": config.device.id,
                "created": to_utc_iso(utc_now()), "database": counts, "members": sorted(members),
                "not_included": NOT_INCLUDED}
    members[MANIFEST] = json.dumps(manifest, indent=2).encode("utf-8")
    return Backup(seal(pack(members, int(time.time())), passphrase), manifest)
