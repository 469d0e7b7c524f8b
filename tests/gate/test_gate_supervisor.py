"""The gate supervisor locks the gate when the daemon dies (kill -9) or stalls (SIGSTOP) while it is
unlocked, and leaves a healthy daemon, or a stalled one with the gate locked, alone.

Real processes and signals: gate_holder.py holds a serial relay (the far end is a pseudo-terminal
read by the `board` fixture) or a mock relay (a state file). The fake GPIO chip lives inside one
process, so GPIO is not covered here; the supervisor kills a stalled daemon first because a
stopped process still holds its GPIO line (and its serial port).
"""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gate_helpers import WAIT_S, Transitions
from holder_helpers import Supervised, Target, next_line, wait_until

from drivers.relay.mock import MockRelay
from kiosk.access.gate import GateController
from kiosk.access.gate_supervisor import CLOSED, LOCKED, UNLOCKED, Ending, watch

LEASE_S = 0.5


@pytest.fixture(params=["serial", "mock"])
def target(request, tmp_path: Path) -> Target:
    board = request.getfixturevalue("board") if request.param == "serial" else None
    return Target(request.param, tmp_path, board)


@pytest.fixture
def holders() -> Iterator[list[Supervised]]:
    """Holders started by a test; whatever is left is continued and killed at the end."""
    started: list[Supervised] = []
    yield started
    for holder in started:
        holder.end(WAIT_S)


def supervised(holders: list[Supervised], kind: str, target: str, *, lease_s: float = LEASE_S,
               pulse_s: float = 30.0) -> Supervised:
    """A holder unlocked for `pulse_s`, once its supervisor watches it."""
    holder = Supervised(kind, target, lease_s=lease_s, pulse_s=pulse_s)
    holders.append(holder)
    holder.wait_watched()
    return holder


def gone(pid: int) -> bool:
    """The process has ended (an unreaped zombie counts: its descriptors are closed)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def writer_pid(target: Target) -> int:
    """The process that wrote the mock relay's state last."""
    return json.loads(Path(target.path).read_text())["pid"]


# The watch loop, in this process ----------------------------------------------------------------
def watching(messages: bytes, *, lease_s: float = 60.0, close: bool = True) -> Ending:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, messages)
        if close:
            os.close(write_end)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(watch, read_end, lease_s).result(timeout=WAIT_S + lease_s)
    finally:
        os.close(read_end)
        if not close:
            os.close(write_end)


def test_watch_ends_quietly_when_the_daemon_closed_or_ended_locked() -> None:
    assert watching(UNLOCKED + LOCKED + CLOSED, close=False) == Ending.closed
    assert watching(UNLOCKED + UNLOCKED + LOCKED) == Ending.closed      # pipe ended, relay released
    assert watching(b"") == Ending.closed


def test_watch_acts_when_the_daemon_ended_or_stalled_unlocked() -> None:
    assert watching(LOCKED + UNLOCKED) == Ending.died
    assert watching(UNLOCKED, lease_s=0.05, close=False) == Ending.stalled


# What the relay thread tells the supervisor, in this process ----------------------------------------
class RecordingLease:
    """Records the messages with the relay's state when each was sent."""

    renew_s = 0.01

    def __init__(self, relay: MockRelay) -> None:
        self.relay = relay
        self.sent: list[tuple[bytes, bool]] = []
        self.started = False

    def start(self) -> None:
        self.started = True

    def unlocked(self) -> None:
        self.sent.append((UNLOCKED, self.relay.unlocked))

    def locked(self) -> None:
        self.sent.append((LOCKED, self.relay.unlocked))

    def close(self, released: bool = True) -> None:
        self.sent.append((CLOSED if released else b"", self.relay.unlocked))


def test_the_relay_thread_renews_the_lease_only_while_unlocked() -> None:
    relay = MockRelay()
    lease = RecordingLease(relay)
    heard = Transitions()
    gate = GateController(relay, 0.2, lease=lease, on_change=heard)
    gate.start_sync()
    assert lease.started
    gate.grant()
    heard.wait_for(2)
    gate.stop_sync()
    assert lease.sent[0] == (UNLOCKED, False)               # told before the relay is energised
    assert lease.sent[-2:] == [(LOCKED, False), (CLOSED, False)]
    renewals = lease.sent[1:-2]
    assert renewals and set(renewals) == {(UNLOCKED, True)}  # renewed while unlocked, and only then


def test_a_failed_unlock_tells_the_supervisor_the_gate_is_locked() -> None:
    relay = MockRelay(fail=True)
    lease = RecordingLease(relay)
    heard = Transitions()
    gate = GateController(relay, 0.2, lease=lease, on_change=heard)
    gate.start_sync()
    gate.grant()
    wait_until(lambda: len(lease.sent) >= 2, WAIT_S, "failed unlock reported")
    gate.stop_sync()
    assert lease.sent == [(UNLOCKED, False), (LOCKED, False), (CLOSED, False)]


# Real processes ---------------------------------------------------------------------------------
def test_kill_9_while_unlocked_the_supervisor_locks(target: Target, holders) -> None:
    holder = supervised(holders, target.kind, target.path)
    target.wait_for_states(2)
    assert target.history()[-1] is True
    os.kill(holder.proc.pid, signal.SIGKILL)
    assert holder.proc.wait(timeout=WAIT_S) == -signal.SIGKILL
    wait_until(target.locked, WAIT_S, "gate locked after kill -9")
    log = holder.log(WAIT_S)               # the supervisor ended too
    assert "ended with the gate unlocked" in log and "gate locked by the supervisor" in log


def test_sigstop_while_unlocked_the_supervisor_kills_and_locks(target: Target, holders) -> None:
    holder = supervised(holders, target.kind, target.path)
    target.wait_for_states(2)
    os.kill(holder.proc.pid, signal.SIGSTOP)
    wait_until(target.locked, WAIT_S + LEASE_S, "gate locked while the holder is stopped")
    # A stopped process still holds its port: the supervisor had to kill it first.
    assert holder.proc.wait(timeout=WAIT_S) == -signal.SIGKILL
    assert f"stalled with the gate unlocked: no lease renewal for {LEASE_S:g} s" in holder.log(WAIT_S)


def test_a_healthy_pulse_is_not_interrupted(target: Target, holders) -> None:
    # The pulse lasts several leases: only the renewals keep the supervisor from stepping in.
    holder = supervised(holders, target.kind, target.path, lease_s=1.0, pulse_s=3.0)
    assert next_line(holder.proc, WAIT_S + 3.0) == "LOCKED"
    target.wait_for_states(3)             # the board's reader may not have seen the release yet
    assert target.locked() and holder.proc.poll() is None, "the supervisor killed a healthy holder"
    if target.kind == "mock":
        assert writer_pid(target) == holder.proc.pid    # locked by the holder's own timer
    else:
        assert target.history() == [False, True, False]  # no extra off commands from the supervisor
    holder.proc.send_signal(signal.SIGTERM)
    assert next_line(holder.proc, WAIT_S) == "STOPPED"
    assert holder.proc.wait(timeout=WAIT_S) == 0
    log = holder.log(WAIT_S)               # the supervisor ended with the holder
    assert "stalled" not in log and "ended with the gate unlocked" not in log, log


def test_a_stall_while_locked_is_left_alone(tmp_path: Path, holders) -> None:
    target = Target("mock", tmp_path, None)
    holder = supervised(holders, "mock", target.path, lease_s=0.2, pulse_s=0.2)
    assert next_line(holder.proc, WAIT_S) == "LOCKED"     # the supervisor has been told too
    os.kill(holder.proc.pid, signal.SIGSTOP)
    time.sleep(1.0)                       # five leases: a supervisor that acted on it would have by now
    assert holder.proc.poll() is None
    os.kill(holder.proc.pid, signal.SIGCONT)
    holder.proc.send_signal(signal.SIGTERM)
    assert next_line(holder.proc, WAIT_S) == "STOPPED"
    assert holder.proc.wait(timeout=WAIT_S) == 0
    assert writer_pid(target) == holder.proc.pid


def test_a_killed_supervisor_is_replaced(tmp_path: Path, holders) -> None:
    target = Target("mock", tmp_path, None)
    holder = supervised(holders, "mock", target.path)
    os.kill(holder.supervisor, signal.SIGKILL)
    holder.wait_watched(2)                # the holder noticed at its next renewal and started another
    assert holder.log_count("starting a new one") == 1
    os.kill(holder.proc.pid, signal.SIGKILL)
    wait_until(target.locked, WAIT_S, "gate locked by the new supervisor after kill -9")
    assert "gate locked by the supervisor" in holder.log(WAIT_S)
