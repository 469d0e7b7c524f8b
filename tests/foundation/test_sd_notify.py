"""systemd notify protocol of the running daemon: READY, WATCHDOG only while results flow, STOPPING."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from e2e_support import sim_kiosk


def start(tmp_path: Path, models_dir: Path, sim_dir: Path, camera: dict) -> tuple[subprocess.Popen, socket.socket]:
    config = sim_kiosk(tmp_path / "state", models_dir, sim_dir, camera=camera, health={"stall_s": 2.0})
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "1000000"}
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return process, sock


def collect(sock: socket.socket, seconds: float) -> list[tuple[float, str]]:
    messages = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            continue
        messages.extend((time.monotonic(), line) for line in data.splitlines())
    return messages


def stop(process: subprocess.Popen, sock: socket.socket) -> list[str]:
    process.send_signal(signal.SIGTERM)
    process.wait(10)
    tail = [line for _, line in collect(sock, 0.5)]
    sock.close()
    return tail


def test_ready_then_watchdog_while_frames_are_processed_then_stopping(tmp_path, models_dir, sim_dir):
    process, sock = start(tmp_path, models_dir, sim_dir, {"backend": "mock"})
    try:
        # Guards only: how soon READY and the watchdog come depends on the machine's load.
        messages = _wait_for(sock, "READY=1".__eq__, 90)
        ready = messages.index("READY=1") if "READY=1" in messages else len(messages)
        seen = messages[ready + 1:]
        deadline = time.monotonic() + 60
        while seen.count("WATCHDOG=1") < 3 and time.monotonic() < deadline:
            seen.extend(line for _, line in collect(sock, 0.5))
    finally:
        tail = stop(process, sock)
    assert "READY=1" in messages
    assert seen.count("WATCHDOG=1") >= 3
    assert "STOPPING=1" in tail


def test_watchdog_is_not_fed_when_the_pipeline_stalls(tmp_path, models_dir, sim_dir):
    # No camera at all: the loop runs, but no frame is ever recognised.
    process, sock = start(tmp_path, models_dir, sim_dir, {"backend": "opencv", "device": "/dev/no-such-camera"})
    try:
        messages: list[tuple[float, str]] = []
        deadline = time.monotonic() + 90          # a guard: start-up takes longer on a busy machine
        while time.monotonic() < deadline and not any(line == "READY=1" for _, line in messages):
            messages.extend(collect(sock, 0.2))
        messages.extend(collect(sock, 8))         # then 8 s of a loop without frames
    finally:
        stop(process, sock)
        stderr = process.stderr.read()
    lines = [line for _, line in messages]
    assert "READY=1" in lines, stderr[-2000:]
    ready_at = next(t for t, line in messages if line == "READY=1")
    late = [line for t, line in messages if line == "WATCHDOG=1" and t > ready_at + 3.5]
    assert late == []
    assert "pipeline stalled" in stderr and "camera" in stderr


def _wait_for(sock: socket.socket, match: Callable[[str], bool], seconds: float) -> list[str]:
    """Notify lines received until one matches (or all received within `seconds`)."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not any(match(line) for line in seen):
        seen.extend(line for _, line in collect(sock, 0.2))
    return seen


def test_sighup_reloads_a_good_configuration_in_the_same_process_and_refuses_a_bad_one(
        tmp_path, models_dir, sim_dir):
    process, sock = start(tmp_path, models_dir, sim_dir, {"backend": "mock"})
    config = tmp_path / "state" / "kiosk.toml"
    try:
        assert "READY=1" in _wait_for(sock, "READY=1".__eq__, 60)
        good = config.read_text()
        config.write_text(good + "\n[bogus]\nkey = 1\n")
        process.send_signal(signal.SIGHUP)                   # refused: the daemon goes on
        refused = _wait_for(sock, lambda line: line.startswith("STATUS=reload refused"), 30)
        assert any(line.startswith("STATUS=reload refused") and "bogus" in line for line in refused), refused
        config.write_text(good)
        process.send_signal(signal.SIGHUP)                   # accepted: stop, exec, ready again
        lines = _wait_for(sock, "RELOADING=1".__eq__, 30)
        assert "RELOADING=1" in lines and any(line.startswith("MONOTONIC_USEC=") for line in lines)
        after = _wait_for(sock, "READY=1".__eq__, 60)
        assert "READY=1" in after and process.poll() is None  # same PID, deciding again
    finally:
        stop(process, sock)
        stderr = process.stderr.read()
    assert "reload refused" in stderr and "bogus" in stderr, stderr[-2000:]
    assert stderr.count("reloading the configuration") == 1
