"""Starting gate_holder.py (a stand-in daemon holding the gate) and watching its relay from outside."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from drivers.relay.mock import read_state_file

HOLDER = Path(__file__).with_name("gate_holder.py")
STARTUP_S = 60.0   # guard for a Python process starting on a busy machine (usually well under a second)


def _start(args: list[str]) -> tuple[subprocess.Popen, list[str]]:
    """The holder once it printed UNLOCKED, and the rest of that line."""
    proc = subprocess.Popen([sys.executable, str(HOLDER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline().split()
    if line[:1] != ["UNLOCKED"]:
        proc.kill()
        raise AssertionError(f"holder did not unlock: {line!r} {proc.stderr.read()}")
    return proc, line[1:]


def start_holder(kind: str, target: str, end: str = "sigterm") -> subprocess.Popen:
    return _start([kind, target, "--end", end])[0]


class Supervised:
    """A holder watched by a gate supervisor. Their log (they share stderr) is read as it comes, so a
    test can wait for the supervisor to be up before it kills or stops the holder."""

    def __init__(self, kind: str, target: str, *, lease_s: float, pulse_s: float = 30.0) -> None:
        self.proc, rest = _start([kind, target, "--lease", f"{lease_s:g}", "--pulse", f"{pulse_s:g}"])
        self.supervisor = int(rest[0])
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def log_count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_watched(self, count: int = 1, timeout: float = STARTUP_S) -> None:
        """Until `count` supervisors said they watch the holder (Python's start-up may be slow on a busy machine)."""
        wait_until(lambda: self.log_count("gate supervisor watching") >= count, timeout, "supervisor watching")

    def log(self, timeout: float) -> str:
        """The whole log, once the holder and its supervisors have ended."""
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        assert not self._reader.is_alive(), "a supervisor is still running"
        return "".join(self.lines)

    def end(self, timeout: float) -> None:
        """Continue and kill a holder still running, and wait for its supervisors."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        self.proc.stdout.close()
        self.proc.stderr.close()


def gpio_levels(log: Path, line: int = 17) -> list[int]:
    return [int(level) for _, offset, level in (row.split() for row in log.read_text().splitlines())
            if int(offset) == line]


class Target:
    """Where a relay of each kind ends up, seen from outside the process."""

    def __init__(self, kind: str, tmp_path: Path, board) -> None:
        self.kind = kind
        self.board = board
        self.path = {"serial": board.port if board else "", "gpio": str(tmp_path / "levels.log"),
                     "mock": str(tmp_path / "state" / "relay-mock.json")}[kind]

    def history(self) -> list[bool]:
        """Every relay state so far, True = unlocked (the GPIO line is active-high here)."""
        if self.kind == "serial":
            return [on for _, on in self.board.states()]
        if self.kind == "gpio":
            return [bool(level) for level in gpio_levels(Path(self.path))]
        state = read_state_file(Path(self.path))
        return [] if state is None else [state]

    def wait_for_states(self, count: int) -> None:
        if self.kind == "serial":
            self.board.wait_for(count)

    def locked(self) -> bool:
        history = self.history()
        return bool(history) and history[-1] is False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition`; fail the test when it is still false after `timeout` (a guard, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.01)


def next_line(proc: subprocess.Popen, timeout: float) -> str:
    """The holder's next line of output (a guard timeout fails the test; the reading thread then stays
    blocked until the holder ends)."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(proc.stdout.readline).result(timeout=timeout).strip()
    finally:
        pool.shutdown(wait=False)
