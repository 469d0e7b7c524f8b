"""kill -9 of the kiosk between every pair of steps of an event's path (log commit, outbox commit, publish,
PUBACK, delete), with a real broker and an external persistent QoS 1 subscriber: after a restart every
event of the local log reaches the subscriber (at least once), in seq order of first arrival."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from event_path_proc import STEPS
from mqtt_support import Mosquitto, Recorder, stop_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
COUNT = 30


def run_kiosk(state: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE / "event_path_proc.py"), "--state", str(state), "--port",
                             str(port), "--count", str(COUNT), *extra], stdout=subprocess.PIPE,
                            stderr=open(state / "kiosk.log", "a"), text=True)


def log_events(state: Path) -> dict[int, str]:
    """seq -> event_id of every event in the kiosk's local log."""
    with sqlite3.connect(state / "kiosk.db") as db:
        return dict(db.execute("SELECT seq, event_id FROM events"))


@pytest.mark.parametrize("step", STEPS)
def test_every_logged_event_arrives_after_a_kill_at(step: str, tmp_path: Path, broker: Mosquitto) -> None:
    state = tmp_path / "kiosk"
    state.mkdir()
    recorder = Recorder(broker.port, ["kiosk/+/events/#"], client_id="hr-system")
    try:
        crashed = run_kiosk(state, broker.port, "--crash-at", step, "--crash-after", "10")
        try:
            code = crashed.wait(60)
        finally:
            stop_process(crashed)
        assert code == -signal.SIGKILL, (state / "kiosk.log").read_text()[-2000:]
        before = log_events(state)
        assert len(before) >= 5               # the kill came mid-run (the 10th call may not be the 10th event)
        kiosk = run_kiosk(state, broker.port)
        try:
            assert kiosk.stdout is not None and kiosk.stdout.readline().strip() == "fed"
            logged = log_events(state)
            assert len(logged) == COUNT and before.items() <= logged.items()
            wanted = set(logged.values())

            def arrived() -> set[str]:
                return {json.loads(m.payload)["event_id"] for m in recorder.messages}
            assert recorder.wait_for(lambda _: arrived() >= wanted, 30), f"missing: {wanted - arrived()}"
        finally:
            stop_process(kiosk)
    finally:
        recorder.close()
    first_seen: list[int] = []
    for message in recorder.messages:
        seq = json.loads(message.payload)["seq"]
        if seq not in first_seen:
            first_seen.append(seq)
    assert first_seen == sorted(first_seen) == sorted(logged)
