"""The `kiosk` CLI writes the database a running daemon reads: its enrollments and erasures reach the daemon's
matcher without a restart (and an erased face is no longer held in the daemon's memory)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from e2e_support import kiosk, sim_kiosk, unrecognised_frames


@pytest.mark.slow
def test_cli_enrollment_and_erasure_reach_the_running_daemon(tmp_path, models_dir, sim_dir):
    # An unknown visitor stands in front of the kiosk the whole time.
    config = sim_kiosk(tmp_path / "state", models_dir, sim_dir, device={"log_level": "DEBUG"},
                       sim={"walkups": ["visitor"], "dwell_s": 600})
    log_path = tmp_path / "daemon.log"
    daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    try:
        deadline = time.monotonic() + 60
        while "reasons=unknown_face" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "reasons=unknown_face" in log_path.read_text(), log_path.read_text()[-2000:]

        enrolled = kiosk("enroll", "--config", str(config), "--employee-no", "V3001", "--name", "Joe Biden",
                         "--consent-given-by", "Joe Biden", "--consent-method", "signed form",
                         str(sim_dir / "biden.jpg"))
        assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
        deadline = time.monotonic() + 10
        while 'person="Joe Biden"' not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert 'outcome=granted reasons=recognised person="Joe Biden"' in log_path.read_text()

        erased = kiosk("person", "delete", "--config", str(config), "V3001", "--yes")
        assert erased.returncode == 0, erased.stdout + erased.stderr
        start = len(log_path.read_text())
        deadline = time.monotonic() + 10
        while unrecognised_frames(log_path.read_text()[start:]) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert unrecognised_frames(log_path.read_text()[start:]) >= 5
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)


def _wait_for(log_path, text: str, start: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while text not in log_path.read_text()[start:] and time.monotonic() < deadline:
        time.sleep(0.2)
    return text in log_path.read_text()[start:]


@pytest.mark.slow
def test_cli_suspension_decides_the_next_walk_up(tmp_path, models_dir, sim_dir):
    # The same visitor walks up again and again (a new track every 9.5 s, no cooldown between verdicts); the face
    # alone decides (no thermal sensor, no liveness), so a loaded machine still decides every walk-up.
    config = sim_kiosk(tmp_path / "state", models_dir, sim_dir, sim={"walkups": ["visitor"], "dwell_s": 4},
                       recognition={"cooldown_s": 0}, thermal={"backend": "none"}, liveness={"enabled": False})
    enrolled = kiosk("--config", str(config), "enroll", "--employee-no", "V3001", "--name", "Joe Biden",
                     "--consent-given-by", "Joe Biden", "--consent-method", "signed form", str(sim_dir / "biden.jpg"))
    assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
    log_path = tmp_path / "daemon.log"
    daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    try:
        granted = 'outcome=granted reasons=recognised'
        assert _wait_for(log_path, granted, 0, 60), log_path.read_text()[-2000:]
        for action, expected in (("suspend", "outcome=denied reasons=suspended"), ("reactivate", granted)):
            start = len(log_path.read_text())
            changed = kiosk("--config", str(config), "person", action, "V3001")
            assert changed.returncode == 0, changed.stdout + changed.stderr
            assert _wait_for(log_path, expected, start, 45), log_path.read_text()[start:][-2000:]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)
