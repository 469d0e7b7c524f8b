"""Chaos (issue 14 acceptance): the kiosk's event path (real Store, EventWriter, MqttService) on its own small
filesystem, a real mosquitto, and an external persistent QoS 1 subscriber (HR). While events are fed: the
broker is paused (SIGSTOP) and killed (-9), the kiosk is killed (-9) three times, the outbox hits its limit,
the disk fills up, and the kiosk is started on read-only and on immutable storage (it must refuse). At the
end every event in the kiosk's local log has reached the subscriber. Needs root (tmpfs mount, chattr).

The broker is configured to persist every change (autosave_on_changes, autosave_interval 1), as an HR
broker must be (README: "Events and broker failures"); a broker that forgets what it acknowledged is
covered by HR's gap pull by seq, which this test reports but does not need.
"""
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
from mqtt_support import Mosquitto, Recorder, stop_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
COUNT = 900
RATE = 80.0            # events per second: ~11 s of feeding, so every fault lands mid-stream
OUTBOX_MAX = 100       # rows (the smallest mqtt.outbox_max_events): reached while the broker is paused
DISK = "24m"           # the kiosk's filesystem (room for both SQLite WALs, ~4 MB each at most)


def progress(state: Path) -> int:
    try:
        return int((state / "progress").read_text().strip() or -1)
    except (FileNotFoundError, ValueError):
        return -1


def log_events(state: Path) -> dict[int, str]:
    with sqlite3.connect(f"file:{state / 'kiosk.db'}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT seq, event_id FROM events"))


def sh(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or sh("mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount)).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs (CI runs as root)")
    try:
        yield mount
    finally:
        sh("chattr", "-R", "-i", str(mount))
        sh("umount", "-l", str(mount))


@pytest.fixture
def durable_broker(tmp_path: Path):
    from mqtt_support import MOSQUITTO, mosquitto_available
    if not mosquitto_available():
        pytest.skip(f"mosquitto not found at {MOSQUITTO}")
    server = Mosquitto(tmp_path / "broker", extra="autosave_on_changes true\nautosave_interval 1")
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGCONT)
    server.stop()


class Kiosk:
    def __init__(self, state: Path, port: int, log: Path) -> None:
        self.state, self.port, self.log_path = state, port, log
        self.proc: subprocess.Popen[str] | None = None
        self.kills = 0

    def start(self) -> subprocess.Popen[str]:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "event_path_proc.py"), "--state", str(self.state),
                                      "--port", str(self.port), "--count", str(COUNT), "--rate", str(RATE),
                                      "--outbox-max", str(OUTBOX_MAX)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log_path, "a"),
                                     text=True)
        return self.proc

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def stop(self) -> None:
        """SIGTERM, then SIGKILL: no kiosk process outlives the test, whatever failed."""
        if self.proc is not None:
            stop_process(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


def wait_progress(kiosk: Kiosk, fraction: float, guard_s: float = 60) -> None:
    deadline = time.monotonic() + guard_s
    while progress(kiosk.state) < fraction * COUNT:
        assert kiosk.proc is not None and kiosk.proc.poll() is None, kiosk.log()
        assert time.monotonic() < deadline, f"feeding stalled at {progress(kiosk.state)}\n{kiosk.log()}"
        time.sleep(0.02)


def wait_stalled(kiosk: Kiosk, quiet_s: float = 1.5, guard_s: float = 60) -> int:
    """Progress once it has not moved for `quiet_s` (the disk is full and the writer retries)."""
    deadline = time.monotonic() + guard_s
    last, since = progress(kiosk.state), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, f"never stalled ({progress(kiosk.state)})\n{kiosk.log()}"
        time.sleep(0.05)
        now = progress(kiosk.state)
        if now != last:
            last, since = now, time.monotonic()
    return last


def refused_to_start(kiosk: Kiosk, why: str) -> str:
    """Start the kiosk on storage it cannot write: it must exit with an error that says so."""
    proc = kiosk.start()
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        code = 0
    assert code != 0, f"started on {why} storage"
    return kiosk.log()


def outbox_peak(state: Path) -> int:
    with sqlite3.connect(f"file:{state / 'outbox.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]


def test_chaos_every_logged_event_reaches_hr(tmp_path: Path, small_disk: Path, durable_broker: Mosquitto) -> None:
    state = small_disk / "kiosk"
    state.mkdir()
    broker = durable_broker
    recorder = Recorder(broker.port, ["kiosk/+/events/#"], client_id="hr-system")
    kiosk = Kiosk(state, broker.port, tmp_path / "kiosk.log")
    figures: dict[str, object] = {}
    started = time.monotonic()
    try:
        kiosk.start()
        # 1. Broker paused: the outbox reaches its limit; events wait in the local log (not in memory).
        wait_progress(kiosk, 0.10)
        os.killpg(broker.process.pid, signal.SIGSTOP)
        wait_progress(kiosk, 0.10 + 2 * OUTBOX_MAX / COUNT)
        figures["outbox_rows_at_limit"] = outbox_peak(state)
        os.killpg(broker.process.pid, signal.SIGCONT)
        # 2. kill -9 of the kiosk.
        wait_progress(kiosk, 0.25)
        kiosk.kill()
        kiosk.start()
        # 3. kill -9 of the broker; back after a second.
        wait_progress(kiosk, 0.35)
        broker.process.send_signal(signal.SIGKILL)
        broker.process.wait(10)
        time.sleep(1.0)
        broker.start()
        # 4. Disk full while feeding: the log cannot record (nothing granted, nothing lost), kill -9 while full.
        wait_progress(kiosk, 0.50)
        filler = small_disk / "filler"
        sh("dd", "if=/dev/zero", f"of={filler}", "bs=64k")
        filled_at = progress(state)
        stalled_at = wait_stalled(kiosk)      # SQLite goes on in the WAL's free space for a while
        figures["recorded_after_disk_filled"] = stalled_at - filled_at
        assert "event log write failed, retrying: database or disk is full" in kiosk.log()
        kiosk.kill()
        # 5. Started on immutable, then on read-only storage: refused with an error, then started normally.
        filler.unlink()
        sh("chattr", "+i", str(state / "kiosk.db"))
        figures["immutable_start"] = refused_to_start(kiosk, "immutable").strip().splitlines()[-1]
        sh("chattr", "-i", str(state / "kiosk.db"))
        assert sh("mount", "-o", "remount,ro", str(small_disk)).returncode == 0
        figures["read_only_start"] = refused_to_start(kiosk, "read-only").strip().splitlines()[-1]
        assert sh("mount", "-o", "remount,rw", str(small_disk)).returncode == 0
        kiosk.start()
        # 6. Broker stopped, kiosk killed while its backlog sits in the outbox and the log; both come back.
        wait_progress(kiosk, 0.80)
        broker.stop()
        wait_progress(kiosk, 0.85)
        kiosk.kill()
        broker.start()
        kiosk.start()
        wait_progress(kiosk, 1.0 - 1 / COUNT)
        logged = log_events(state)
        wanted = set(logged.values())

        def arrived() -> set[str]:
            return {json.loads(m.payload)["event_id"] for m in recorder.messages}
        assert recorder.wait_for(lambda ms: len(ms) >= len(wanted) and arrived() >= wanted, 60), \
            f"{len(wanted - arrived())} logged events never arrived\nkiosk: {kiosk.log()}\nbroker: {broker.log()}"
    finally:
        kiosk.stop()
        recorder.close()
    received = [json.loads(m.payload) for m in recorder.messages]
    assert len(logged) == COUNT and sorted(logged) == list(range(1, COUNT + 1))
    assert {e["detail"]["n"] for e in received} == set(range(COUNT))
    assert figures["outbox_rows_at_limit"] <= OUTBOX_MAX
    assert "read-only" in str(figures["read_only_start"]).lower() or "readonly" in str(figures["read_only_start"]).lower()
    figures.update(events=COUNT, deliveries=len(received), duplicates=len(received) - COUNT, kiosk_kills=kiosk.kills,
                   seconds=round(time.monotonic() - started, 1))
    print("\nchaos:", json.dumps(figures))
