"""`kiosk restore`: open a sealed backup, check it in a private staging directory, then put it in place.

Nothing is written before the archive has been decrypted and authenticated, and nothing is put in
place before the staged copy has passed every check (`checks.py`). Files are written 0600 through a
temporary name and a rename; directories created on the way are 0700, and the keys directories are
made 0700 (created if missing).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import KioskConfig
from ..runtime.files import fsync_dir
from ..store.state_marker import adopt
from .archive import BackupError, unpack, unseal
from .checks import COMPARED, check_state
from .state import DATABASE, MANIFEST, REQUIRED, StatePaths


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    checks: list[str]           # one line per check passed
    placed: list[Path]
    kept: list[Path]            # existing state the archive has no copy of, left as it was


def make_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each 0700."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write `path` as 0600 through a temporary name and a rename (fsynced)."""
    make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_manifest(members: dict[str, bytes], paths: StatePaths) -> dict[str, Any]:
    """The manifest, after checking the members' names; BackupError when the archive is not a whole backup."""
    try:
        manifest = json.loads(members[MANIFEST])
        counts = manifest["database"]
        if not all(isinstance(counts[k], int) for k in COMPARED):
            raise ValueError
    except (KeyError, ValueError, TypeError):
        raise BackupError("the archive has no readable manifest") from None
    unknown = [n for n in members if n != MANIFEST and not paths.is_member(n)]
    if unknown:
        raise BackupError(f"the archive holds an unknown member {unknown[0]!r}")
    missing = [n for n in REQUIRED if n not in members]
    if missing:
        raise BackupError(f"the archive has no {missing[0]}")
    return manifest


def _place(source: Path, target: Path, *, database: bool) -> Path:
    if database:
        for stale in (target.with_name(target.name + s) for s in ("-wal", "-shm", "-journal")):
            stale.unlink(missing_ok=True)       # an old WAL would be replayed into the restored file
    write_private(target, source.read_bytes())
    return target


def restore(config: KioskConfig, sealed: bytes, passphrase: str, *, force: bool = False) -> Restored:
    """Restore the state of `config` from a sealed backup. Refuses to overwrite existing state unless `force`."""
    paths = StatePaths.of(config)
    members = unpack(unseal(sealed, passphrase))
    manifest = read_manifest(members, paths)
    occupied = paths.occupied()
    if occupied and not force:
        raise BackupError(f"{occupied[0]} exists: restore does not overwrite existing state (stop the daemon, "
                          "then add --force to replace it)")
    names = sorted((n for n in members if n != MANIFEST), key=lambda n: n == DATABASE)   # the database last
    make_dirs(paths.database.parent)
    with tempfile.TemporaryDirectory(prefix=".kiosk-restore-", dir=paths.database.parent) as tmp:
        staged = StatePaths(*(Path(tmp) / n for n in ("kiosk.db", "keys", "trusted", "audit-head.json",
                                                       "calibration.json", "attendance.json")))
        for name in names:
            write_private(staged.destination(name), members[name])
        checks = check_state(staged, manifest["database"])
        placed = [_place(staged.destination(n), paths.destination(n), database=n == DATABASE) for n in names]
    for directory in (paths.keys_dir, paths.trusted_dir):     # trusted/ may be empty, as `kiosk keys init` left it
        make_dirs(directory)
        directory.chmod(0o700)
    adopt(paths.database)      # the state marker now names the restored database (a foreign one would be refused)
    kept = [p for p in occupied if p.is_file() and p not in placed]
    return Restored(manifest, checks, placed, kept)
