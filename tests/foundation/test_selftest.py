"""`kiosk selftest`: every configured part checked, failures named, exit status 1 when one is required."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from e2e_support import sim_kiosk


def config_file(tmp_path: Path, models_dir: Path, sim_dir: Path, **sections: dict) -> Path:
    return sim_kiosk(tmp_path / "state", models_dir, sim_dir, **sections)


def selftest(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", "selftest", "--config", str(path)], capture_output=True,
                          text=True, timeout=120)


def test_simulated_kiosk_passes_every_check(tmp_path, models_dir, sim_dir):
    result = selftest(config_file(tmp_path, models_dir, sim_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("models", "store", "calibration", "simulator", "camera", "thermal", "gate"):
        assert any(line.startswith("ok") and f" {name} " in line for line in result.stdout.splitlines()), name
    models_line = next(line for line in result.stdout.splitlines() if line.startswith("ok") and " models " in line)
    installed = (models_dir / "aizoo_mask.json").is_file()         # make test installs it from ../shared
    assert f"; mask {'aizoo_mask@' if installed else 'mask_logreg@'}" in models_line


def test_missing_models_and_unreachable_broker_are_named_and_fail(tmp_path, sim_dir):
    result = selftest(config_file(tmp_path, tmp_path / "no-models", sim_dir,
                                  mqtt={"enabled": True, "host": "127.0.0.1", "port": 1,
                                        "accept_commands": False}))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("FAIL models") and "kiosk models install" in line for line in lines)
    assert any(line.startswith("FAIL broker") and "127.0.0.1:1" in line for line in lines)
    assert any(line.startswith("ok") and " gate " in line for line in lines)   # the other checks still ran
    assert "selftest failed: models" in result.stdout


def test_mismatched_key_pair_and_emptied_database_fail_the_store_check(tmp_path, models_dir, sim_dir):
    path = config_file(tmp_path, models_dir, sim_dir)
    state = tmp_path / "state"
    assert selftest(path).returncode == 0                       # creates kiosk.db and its state marker
    other = tmp_path / "other-keys"
    assert subprocess.run([sys.executable, "-m", "kiosk", "keys", "init", "--dir", str(other)]).returncode == 0
    pub = state / "keys" / "signing.pub"
    mine = pub.read_bytes()
    pub.write_bytes((other / "signing.pub").read_bytes())
    result = selftest(path)
    assert result.returncode == 1
    assert any(line.startswith("FAIL store") and "does not match" in line for line in result.stdout.splitlines())
    pub.write_bytes(mine)
    (state / "kiosk.db").write_bytes(b"")
    for name in ("kiosk.db-wal", "kiosk.db-shm"):
        (state / name).unlink(missing_ok=True)
    result = selftest(path)
    assert result.returncode == 1
    assert any(line.startswith("FAIL store") and "is empty (0 bytes)" in line for line in result.stdout.splitlines())
