"""The privacy notice shown before enrollment, by version (`store.notice_version`).

<state_dir>/notices/<version>.txt when present (a site's own text), else the built-in text of that
version (kiosk/data/privacy-notice-<version>.txt). Its SHA-256 goes into the consent's audit record,
so which text was shown can be proved later.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ...config import KioskConfig

BUILT_IN = Path(__file__).parents[2] / "data"
VERSION = re.compile(r"[A-Za-z0-9._-]{1,64}")


class NoticeMissing(Exception):
    """No text for the configured notice version: enrollment in the console is refused."""


@dataclass(frozen=True)
class Notice:
    version: str
    text: str
    sha256: str


def notice_for(config: KioskConfig) -> Notice:
    version = config.store.notice_version
    if not VERSION.fullmatch(version):
        raise NoticeMissing(f"store.notice_version '{version}' cannot name a file")
    site = config.state_dir / "notices" / f"{version}.txt"
    for path in (site, BUILT_IN / f"privacy-notice-{version}.txt"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return Notice(version, text, hashlib.sha256(text.encode("utf-8")).hexdigest())
    raise NoticeMissing(f"no privacy notice text for version '{version}': write it to {site}")
