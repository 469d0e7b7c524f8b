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
