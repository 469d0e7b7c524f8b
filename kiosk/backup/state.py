"""What a backup holds and where each part lives under a configuration.

Members of the archive, by name: `manifest.json`, `kiosk.db`, `keys/<name>` (the template key, fleet key
and device signing key pair), `trusted/<name>` (public keys trusted to sign MQTT commands),
`audit-head.json`, `calibration.json`, `attendance.json`. Not the models: they are reinstalled
(`kiosk models install`), and a new model needs `kiosk person reembed` anyway; not the MQTT outbox
(undelivered copies of events the database keeps); not the configuration file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..access.attendance import LEDGER_FILE
from ..config import KioskConfig
from ..store.keys import FLEET_KEY, SIGNING_KEY, SIGNING_PUB, TEMPLATE_KEY

MANIFEST = "manifest.json"
DATABASE = "kiosk.db"
AUDIT_HEAD = "audit-head.json"
CALIBRATION = "calibration.json"
ATTENDANCE = "attendance.json"
KEY_NAMES = (TEMPLATE_KEY, FLEET_KEY, SIGNING_KEY, SIGNING_PUB)
REQUIRED = (DATABASE, f"keys/{TEMPLATE_KEY}", f"keys/{SIGNING_KEY}")
_TRUSTED = re.compile(r"^trusted/[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


@dataclass(frozen=True)
class StatePaths:
    database: Path
    keys_dir: Path
    trusted_dir: Path
    audit_head: Path
    calibration: Path
    attendance: Path

    @classmethod
    def of(cls, config: KioskConfig) -> StatePaths:
        return cls(config.database_path, config.keys_dir, config.trusted_keys_dir, config.audit_head_path,
                   config.calibration_path, config.state_dir / LEDGER_FILE)

    def fixed(self) -> dict[str, Path]:
        """Archive member name -> path, for every member but the trusted keys."""
        return {DATABASE: self.database, AUDIT_HEAD: self.audit_head, CALIBRATION: self.calibration,
                ATTENDANCE: self.attendance, **{f"keys/{name}": self.keys_dir / name for name in KEY_NAMES}}

    def destination(self, member: str) -> Path:
        """Where a member is restored to (a name `is_member` accepted)."""
        if member.startswith("trusted/"):
            return self.trusted_dir / member.split("/", 1)[1]
        return self.fixed()[member]

    def is_member(self, name: str) -> bool:
        return name in self.fixed() or bool(_TRUSTED.match(name))

    def occupied(self) -> list[Path]:
        """The parts of the state already present (a restore would overwrite them)."""
        files = [p for p in (self.database, self.audit_head, self.calibration, self.attendance) if p.exists()]
        dirs = [d for d in (self.keys_dir, self.trusted_dir) if d.is_dir() and any(d.iterdir())]
        return files + dirs
