"""Demo photos for the simulator, fetched from PyPI at install time (`kiosk sim assets`).

Sources (pinned by sha256 of each file):
- `face_recognition==1.3.0` source distribution (MIT, Adam Geitgey): test photos of Barack Obama
  and Joe Biden (US government / press photos).
- `scikit-image==0.26.0` wheel: `astronaut.png`, NASA portrait of Eileen Collins (public domain).

Nothing is taken from the evaluation data; the files land in the assets directory with a
`cast.json` that says who is who.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..models.wheels import FetchError, WheelMember, default_cache_dir, extract_member
from ..runtime.files import replace_durably


@dataclass(frozen=True)
class SdistMember:
    requirement: str
    member: str
    sha256: str


PHOTOS: dict[str, SdistMember | WheelMember] = {
    "obama_enroll.jpg": SdistMember("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/obama.jpg",
                                    "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
    "obama_walkup.jpg": SdistMember("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/obama3.jpg",
                                    "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3"),
    "biden.jpg": SdistMember("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/biden.jpg",
                             "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c"),
    "collins.png": WheelMember("scikit-image==0.26.0", "skimage/data/astronaut.png",
                               "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
}

# Who the simulator plays. Enrolled people get a demo consent record at first start.
CAST = {
    "people": [
        {"key": "obama", "name": "Barack Obama", "employee_no": "E1001", "role": "staff",
         "enroll_photo": "obama_enroll.jpg", "walkup_photo": "obama_walkup.jpg"},
        {"key": "collins", "name": "Eileen Collins", "employee_no": "E1002", "role": "staff",
         "enroll_photo": "collins.png", "walkup_photo": "collins.png"},
        {"key": "biden", "name": "Joe Biden", "employee_no": None, "role": "visitor",
         "enroll_photo": None, "walkup_photo": "biden.jpg"},
    ],
    "licences": {
        "face_recognition==1.3.0": "MIT (repository ageitgey/face_recognition); photos of public officials",
        "scikit-image==0.26.0": "astronaut.png: NASA, public domain",
    },
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sdist(requirement: str, cache: Path, wheelhouse: Optional[Path]) -> Path:
    name, version = requirement.split("==")
    pattern = f"{name}-{version}.tar.gz"
    for directory in ([wheelhouse] if wheelhouse else [cache]):
        if (directory / pattern).is_file():
            return directory / pattern
    if wheelhouse is not None:
        raise FetchError(f"no {pattern} in {wheelhouse}")
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--quiet",
                             "--disable-pip-version-check", "-d", str(cache), requirement],
                            capture_output=True, text=True)
    if not (cache / pattern).is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise FetchError(f"pip could not download {requirement}: {detail[-1] if detail else 'no file'}")
    return cache / pattern


def _extract_sdist_member(item: SdistMember, destination: Path, cache: Path, wheelhouse: Optional[Path]) -> None:
    archive_path = _sdist(item.requirement, cache, wheelhouse)
    try:
        with tarfile.open(archive_path) as archive:
            handle = archive.extractfile(item.member)
            data = handle.read() if handle else b""
    except (OSError, tarfile.TarError, KeyError) as exc:
        raise FetchError(f"{archive_path}: cannot read {item.member}: {exc}") from None
    if _sha256(data) != item.sha256:
        raise FetchError(f"{archive_path}: {item.member} has sha256 {_sha256(data)}, expected {item.sha256}")
    temporary = destination.with_name(destination.name + ".part")
    temporary.write_bytes(data)
    replace_durably(temporary, destination)


def install_assets(directory: Path, wheelhouse: Optional[Path] = None, cache: Optional[Path] = None) -> list[Path]:
    """Fetch every demo photo that is missing or damaged; return the paths. Idempotent."""
    cache = cache or default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, item in PHOTOS.items():
        target = directory / filename
        if target.is_file() and _sha256(target.read_bytes()) == item.sha256:
            continue
        if isinstance(item, WheelMember):
            extract_member(item, target, cache, [wheelhouse] if wheelhouse else [])
        else:
            _extract_sdist_member(item, target, cache, wheelhouse)
        written.append(target)
    (directory / "cast.json").write_text(json.dumps(CAST, indent=2))
    return written


def check_assets(directory: Path) -> list[str]:
    """Problems with the installed demo photos (empty when all are present and intact)."""
    problems = []
    for filename, item in PHOTOS.items():
        path = directory / filename
        if not path.is_file():
            problems.append(f"{path} is missing (run `kiosk sim assets --dir {directory}`)")
        elif _sha256(path.read_bytes()) != item.sha256:
            problems.append(f"{path} is damaged (run `kiosk sim assets --dir {directory}`)")
    return problems
