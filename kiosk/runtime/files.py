"""Durable file replacement (write a temporary file, fsync it, rename it over the target, fsync the
directory) and setting a damaged file aside.

Without the first fsync a power cut after the rename can leave the target empty (the rename reached
the disk before the data); without the second the rename itself may be lost.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make renames and creations in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(temporary: Path, target: Path) -> None:
    """Rename a fully written `temporary` over `target`, with the fsyncs either side."""
    fsync_file(temporary)
    os.replace(temporary, target)
    fsync_dir(Path(target).parent)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data`: readers see the old content or the new, never a mix, even after a power cut."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def set_aside(path: Path, companions: tuple[str, ...] = ()) -> Path:
    """Rename a damaged `path` (and `<path><suffix>` for each companion, e.g. SQLite's "-wal") to
    `<path>.damaged-<UTC time>`, keeping it for inspection; returns the new path."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    for suffix in ("", *companions):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{aside}{suffix}"))
    fsync_dir(path.parent)
    return aside


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
