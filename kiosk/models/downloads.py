"""Fetch one file from a pinned URL, checked against its sha256 (models that are not on PyPI).

The file is taken from a local directory (`--from DIR`: any file there with the pinned sha256, so
its name does not matter), else from the download cache, else downloaded from the URL into the
cache. It is used where it lies (the installer only reads it to convert it).
"""
from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..runtime.files import replace_durably, sha256_file
from .wheels import FetchError

DOWNLOAD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PinnedUrl:
    url: str
    sha256: str             # of the file's bytes

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def cached_name(self) -> str:
        return f"{self.sha256[:12]}-{self.name}"


def find_by_sha256(item: PinnedUrl, directory: Path) -> Path:
    """The file in `directory` (not its subfolders) with the pinned sha256; FetchError naming what differs."""
    differing = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if sha256_file(path) == item.sha256:
            return path
        if path.suffix == Path(item.name).suffix:
            differing.append(path.name)
    detail = f" ({', '.join(differing)}: sha256 differs, corrupt or another version)" if differing else ""
    raise FetchError(f"no file with sha256 {item.sha256[:12]}... in {directory}{detail}")


def _download(item: PinnedUrl, target: Path, timeout: float) -> None:
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(item.url, timeout=timeout) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(f"cannot download {item.url}: {reason}") from None
    actual = sha256_file(partial)
    if actual != item.sha256:
        partial.unlink()
        raise FetchError(f"{item.url}: downloaded sha256 {actual}, expected {item.sha256} (file changed or tampered)")
    replace_durably(partial, target)


def locate_file(item: PinnedUrl, cache: Path, source_dirs: Sequence[Path] = (),
                timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """A local copy of the pinned file, checked (in one of `source_dirs`, or the cache after downloading it there).

    FetchError, one line, saying every place tried, when it cannot be had.
    """
    problems = []
    for source_dir in source_dirs:
        try:
            return find_by_sha256(item, source_dir)
        except FetchError as exc:
            problems.append(str(exc))
    cached = cache / item.cached_name
    if cached.is_file() and sha256_file(cached) == item.sha256:
        return cached
    cached.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        _download(item, cached, timeout)
    except FetchError as exc:
        problems.append(str(exc))
        raise FetchError("; ".join(problems)) from None
    return cached
