"""Write-temp-then-rename: the temporary file is fsynced before the rename and the directory after it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.runtime import files


@pytest.fixture
def calls(monkeypatch):
    """The order of fsync (file or directory) and rename calls."""
    seen: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        seen.append(("fsync-dir" if os.path.isdir(target) else "fsync", Path(target).name))
        real_fsync(fd)

    def replace(src, dst) -> None:
        seen.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return seen


def test_write_atomic_syncs_the_data_then_the_rename(tmp_path, calls):
    target = tmp_path / "state.json"
    files.write_atomic(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}' and (target.stat().st_mode & 0o777) == 0o600
    assert [c[0] for c in calls] == ["fsync", "replace", "fsync-dir"]
    assert calls[0][1].endswith(".tmp") and calls[2][1] == tmp_path.name
    assert list(tmp_path.iterdir()) == [target]


def test_replace_durably_syncs_a_file_written_elsewhere(tmp_path, calls):
    partial = tmp_path / "model.onnx.part"
    partial.write_bytes(b"x" * 100_000)
    files.replace_durably(partial, tmp_path / "model.onnx")
    assert [c[0] for c in calls] == ["fsync", "replace", "fsync-dir"]
    assert (tmp_path / "model.onnx").stat().st_size == 100_000


def test_every_rename_in_the_code_is_synced():
    """No write-temp-then-rename outside kiosk/runtime/files.py goes without fsync."""
    root = Path(__file__).resolve().parents[2]
    unsynced = []
    for path in [*root.joinpath("kiosk").rglob("*.py"), *root.joinpath("drivers").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if path.name == "files.py" and path.parent.name == "runtime":
            continue
        if ("os.replace(" in text or ".rename(" in text) and "fsync" not in text:
            unsynced.append(str(path.relative_to(root)))
    assert unsynced == []
