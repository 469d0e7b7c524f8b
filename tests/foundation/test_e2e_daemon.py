"""End to end: the real daemon process on simulated hardware, with a real mosquitto.

The simulator plays the five walk-ups (staff, visitor, fever, printed photo, mask) through the
mock camera and the mock MLX90640 (read by the real I2C driver). The test listens on the broker
like an HR system would and checks each walk-up's verdict, the alerts, the signatures, the decision
log lines, and that SIGTERM stops the daemon within 2 s with the gate locked.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import Listener, sim_kiosk

from kiosk.store.keys import load_public_key
from kiosk.store.signing import verify_event


def write_config(state: Path, models_dir: Path, sim_dir: Path, port: int) -> Path:
    return sim_kiosk(
        state, models_dir, sim_dir,
        device={"id": "e2e-kiosk", "log_level": "DEBUG", "role": "entry"}, gate={"pulse_s": 1.0},
        recognition={"cooldown_s": 5, "retry_timeout_s": 4.0}, mask={"policy": "forbid"},
        mqtt={"enabled": True, "host": "127.0.0.1", "port": port, "health_interval_s": 2, "accept_commands": False},
        sim={"loop": False, "speed": 1.5, "dwell_s": 9.0}, health={"interval_s": 2})
@pytest.mark.slow
def test_five_walkups_are_decided_and_reach_the_broker(tmp_path, models_dir, sim_dir, broker):
    state = tmp_path / "state"
    config = write_config(state, models_dir, sim_dir, broker.port)
    listener = Listener(broker.port, "e2e-kiosk")
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                                  stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while len(listener.access()) < 5 and time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(0.2)
            access = listener.access()
            assert daemon.poll() is None, log_path.read_text()[-3000:]
            assert len(access) == 5, log_path.read_text()[-3000:]
            time.sleep(0.5)   # the alerts follow their access event
            stop_started = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(10)
            stop_s = time.monotonic() - stop_started
        finally:
            if daemon.poll() is None:
                daemon.kill()
            listener.close()
    log = log_path.read_text()

    verdicts = [(e["type"], e["decision"]["reasons"], (e["person"] or {}).get("name")) for e in access]
    decided = "\n".join(line for line in log.splitlines() if "decision" in line or "prompt" in line)
    assert [v[0] for v in verdicts] == ["access_granted"] + ["access_denied"] * 4, (verdicts, decided)
    staff, visitor, fever, photo, masked = access
    assert staff["type"] == "access_granted" and staff["person"]["employee_no"] == "E1001"
    assert staff["temperature"]["fever"] is False and staff["liveness"]["live"] is True
    assert visitor["type"] == "access_denied" and "unknown_face" in visitor["decision"]["reasons"]
    assert fever["type"] == "access_denied" and "fever" in fever["decision"]["reasons"]
    assert fever["person"]["employee_no"] == "E1002" and fever["temperature"]["body_c"] >= 37.3
    assert photo["type"] == "access_denied" and "not_live" in photo["decision"]["reasons"]
    assert masked["type"] == "access_denied" and "mask_on" in masked["decision"]["reasons"]   # policy "forbid"

    assert len(listener.of_type("fever_alert")) >= 1
    assert len(listener.of_type("spoof_attempt")) >= 1
    assert len(listener.of_type("unknown_face")) >= 1
    attendance = listener.of_type("attendance")
    assert [e["person"]["employee_no"] for e in attendance] == ["E1001"]
    assert attendance[0]["attendance"]["direction"] == "in"

    # The HR contract: numbered without gaps, one walk-up id per walk-up, a photo names nobody.
    seqs = {e["seq"] for e in listener.events}
    assert seqs == set(range(1, max(seqs) + 1)), sorted(seqs)
    assert attendance[0]["walkup_id"] == staff["walkup_id"] != visitor["walkup_id"]
    assert staff["verify_mode"] == "face+liveness+temperature+mask"                         # mask policy "forbid"
    assert photo["person"] is None and all(e["person"] is None for e in listener.of_type("spoof_attempt"))

    public_key = load_public_key(state / "keys" / "signing.pub")
    assert [verify_event(event, [public_key]) for event in listener.events] == [None] * len(listener.events)

    decision_lines = [line for line in log.splitlines() if "kiosk.decision decision" in line]
    assert len(decision_lines) == 5 and all("reasons=" in line for line in decision_lines)
    assert "events_to=" in log

    assert code == 0 and stop_s < 2.0, (code, stop_s, log[-2000:])
    relay = json.loads((state / "relay-mock.json").read_text())
    assert relay["unlocked"] is False


def test_missing_model_file_stops_the_start_with_one_line(tmp_path, sim_dir):
    config = write_config(tmp_path / "state", tmp_path / "no-models", sim_dir, 1883)
    result = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(config)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("kiosk:")]
    assert len(lines) == 1 and "no-models" in lines[0] and "kiosk models install" in lines[0], result.stderr
