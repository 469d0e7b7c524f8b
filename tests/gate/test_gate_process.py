"""Fail-secure across processes: SIGTERM, a crash, sys.exit, and `kiosk gate lock` after SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from holder_helpers import Target, start_holder

from drivers.relay.mock import read_state_file

KIOSK = Path(sys.executable).with_name("kiosk")


@pytest.fixture(params=["serial", "gpio", "mock"])
def target(request, tmp_path: Path) -> Target:
    board = request.getfixturevalue("board") if request.param == "serial" else None
    return Target(request.param, tmp_path, board)


def test_sigterm_releases_the_relay(target: Target) -> None:
    proc = start_holder(target.kind, target.path)
    target.wait_for_states(2)             # the board's reader may not have seen the unlock yet
    assert target.history()[-1] is True
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "STOPPED" in out
    target.wait_for_states(3)
    history = target.history()
    assert history[-1] is False
    if target.kind != "mock":
        assert history[:3] == [False, True, False]


def test_exception_in_the_pipeline_releases_the_relay(target: Target) -> None:
    proc = start_holder(target.kind, target.path, end="crash")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 1 and "RuntimeError: pipeline lost" in err
    target.wait_for_states(3)
    assert target.history()[-1] is False


def test_exit_without_stopping_releases_the_relay(target: Target) -> None:
    proc = start_holder(target.kind, target.path, end="exit")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 3, err
    target.wait_for_states(3)
    assert target.history()[-1] is False


def write_config(tmp_path: Path, gate: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n\n[gate]\n{gate}\n')
    return path


@pytest.mark.parametrize("kind", ["serial", "mock"])
def test_gate_lock_after_sigkill(kind: str, tmp_path: Path, request) -> None:
    board = request.getfixturevalue("board") if kind == "serial" else None
    target = Target(kind, tmp_path, board)
    gate = f'backend = "serial"\nserial_port = "{board.port}"' if kind == "serial" else 'backend = "mock"'
    config = write_config(tmp_path, gate)
    proc = start_holder(kind, target.path)
    target.wait_for_states(2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    assert target.history()[-1] is True, "SIGKILL left the gate unlocked: nothing in the process could run"

    result = subprocess.run([str(KIOSK), "gate", "lock", "--config", str(config)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gate locked: ")
    target.wait_for_states(3)
    assert target.history()[-1] is False


def test_gate_lock_error_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'backend = "gpio"\ngpio_chip = "/dev/gpiochip77"')
    result = subprocess.run([str(KIOSK), "gate", "lock", "--config", str(config)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1
    assert result.stderr == ("kiosk: gate lock failed: cannot request gpio /dev/gpiochip77 line 17: "
                             "No such file or directory\n")


def test_gate_test_pulses_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'backend = "mock"\npulse_s = 0.2')
    result = subprocess.run([str(KIOSK), "gate", "test", "--config", str(config)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert "relay unlocked for 0.2" in result.stdout
    assert read_state_file(tmp_path / "state" / "relay-mock.json") is False
    bad = subprocess.run([str(KIOSK), "gate", "test", "--pulse", "0", "--config", str(config)], capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 1 and bad.stderr.startswith("kiosk: --pulse 0")
