"""Acceptance: 10,000 events through the outbox while the broker is stopped and restarted 5 times and the
publishing kiosk is killed with SIGKILL twice: every event reaches the subscriber at least once, none is
lost, and the order per device is kept (first deliveries in event order; duplicates are allowed)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mqtt_support import Mosquitto, Recorder

pytestmark = [pytest.mark.broker, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
COUNT = 10_000
RATE = 650           # events per second fed by the kiosk: the run spans ~15 s, so every fault hits mid-stream

# (fraction of events fed, action); broker stops/starts 5 times, the kiosk is killed twice (once while
# the broker is down, so its backlog sits only in the outbox when it dies).
SCHEDULE = [
    (0.08, "broker_stop"), (0.12, "broker_start"),
    (0.25, "broker_restart"),
    (0.35, "kill"),
    (0.45, "broker_restart"),
    (0.60, "broker_stop"), (0.66, "kill"), (0.72, "broker_start"),
    (0.88, "broker_restart"),
]


def progress(state: Path) -> int:
    try:
        return int((state / "progress").read_text().strip() or -1)
    except (FileNotFoundError, ValueError):
        return -1


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def start_kiosk(state: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE / "mqtt_publisher_proc.py"), "--state", str(state),
                             "--port", str(port), "--count", str(COUNT), "--rate", str(RATE)],
                            stdout=subprocess.DEVNULL, stderr=open(state / "kiosk.log", "a"), text=True)


def test_ten_thousand_events_survive_broker_restarts_and_sigkill(tmp_path: Path, broker: Mosquitto) -> None:
    state = tmp_path / "kiosk"
    state.mkdir()
    recorder = Recorder(broker.port, ["kiosk/+/events/#"], client_id="hr-system")   # persistent session, QoS 1
    kiosk = start_kiosk(state, broker.port)
    done = {"broker_stop": 0, "broker_start": 0, "broker_restart": 0, "kill": 0}
    pending_at_kill: list[int] = []
    started = time.monotonic()
    try:
        for fraction, action in SCHEDULE:
            last, moved_at = progress(state), time.monotonic()
            while (fed := progress(state)) < fraction * COUNT:
                assert kiosk.poll() is None, tail(state / "kiosk.log")
                if fed != last:
                    last, moved_at = fed, time.monotonic()
                assert time.monotonic() - moved_at < 60, f"feeding stalled at {fed}\n{tail(state / 'kiosk.log')}"
                time.sleep(0.01)
            if action == "kill":
                os.kill(kiosk.pid, signal.SIGKILL)
                kiosk.wait(5)
                with sqlite3.connect(state / "outbox.db") as db:
                    pending_at_kill.append(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
                kiosk = start_kiosk(state, broker.port)
            elif action == "broker_stop":
                broker.stop()
            elif action == "broker_start":
                broker.start()
            else:
                broker.restart(down_s=0.2)
            done[action] += 1
        assert done["broker_stop"] + done["broker_restart"] == 5 and done["kill"] == 2
        assert pending_at_kill[1] > 100        # the second kill hit while a backlog sat only in the outbox

        def numbers() -> list[int]:
            return [json.loads(m.payload)["detail"]["n"] for m in recorder.messages]
        deadline = time.monotonic() + 60
        while (distinct := len(set(numbers()))) < COUNT and time.monotonic() < deadline:
            have = len(recorder.messages)      # wait on a cheap count; parse again only when enough came in
            recorder.wait_for(lambda ms, n=have + COUNT - distinct: len(ms) >= n, max(0.1, deadline - time.monotonic()))
        assert distinct == COUNT, f"only {distinct} of {COUNT} distinct events arrived (fed {progress(state) + 1})\n" \
                                  f"kiosk: {tail(state / 'kiosk.log')}\nbroker: {broker.log()}"
    finally:
        kiosk.send_signal(signal.SIGTERM)
        try:
            kiosk.wait(5)
        except subprocess.TimeoutExpired:
            kiosk.kill()
        recorder.close()
    received = numbers()
    events = [json.loads(m.payload) for m in recorder.messages]
    assert set(received) == set(range(COUNT))                                  # none lost
    first_seen: list[int] = []
    seen: set[int] = set()
    for n in received:
        if n not in seen:
            seen.add(n)
            first_seen.append(n)
    assert first_seen == list(range(COUNT))                                    # order per device kept
    ids = {e["detail"]["n"]: e["event_id"] for e in events}
    assert all(ids[e["detail"]["n"]] == e["event_id"] for e in events)        # duplicates share the event_id
    duplicates = len(received) - COUNT
    print(f"\n{COUNT} events, {duplicates} duplicate deliveries, outbox rows at the kills {pending_at_kill}, "
          f"{time.monotonic() - started:.1f} s")
