"""In-memory relay for simulation and tests: records every transition with its time.

With `state_file` it also writes its state there on every change (atomically), so another
process (a test, or `kiosk gate lock` after the daemon was killed) can see and change it.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from ..health import DeviceHealth, HealthState
from .base import Relay, RelayError


def pulse_lengths(transitions: list[tuple[float, bool]]) -> list[float]:
    """Lengths of the unlocked periods in a list of (time, unlocked) transitions, e.g.
    `MockRelay.transitions`, a fake GPIO chip's level history or the commands seen on a relay's port."""
    lengths, since = [], None
    for when, unlocked in transitions:
        if unlocked and since is None:
            since = when
        elif not unlocked and since is not None:
            lengths.append(when - since)
            since = None
    return lengths


class MockRelay(Relay):
    def __init__(self, state_file: Optional[Path] = None, *, clock: Callable[[], float] = time.monotonic,
                 fail: bool = False) -> None:
        self.state_file = state_file
        self.clock = clock
        self.fail = fail                      # make every switch fail (to test error paths)
        self.transitions: list[tuple[float, bool]] = []  # (clock(), unlocked), in order
        self.unlocked = False
        self.is_open = False
        self._lock = threading.Lock()
        self.health = DeviceHealth(HealthState.failed, "not opened", {"switches": 0})

    def describe(self) -> str:
        return f"mock relay ({self.state_file})" if self.state_file else "mock relay"

    def open(self) -> None:
        self.is_open = True
        self._switch(False)
        self.health.state, self.health.detail = HealthState.ok, "locked"

    def set_unlocked(self, unlocked: bool) -> None:
        if not self.is_open:
            raise RelayError("mock relay is not open")
        if self.fail:
            raise RelayError("mock relay: simulated failure")
        self._switch(unlocked)
        self.health.counters["switches"] += 1
        self.health.detail = "unlocked" if unlocked else "locked"

    def close(self) -> None:
        if self.is_open:
            self._switch(False)
            self.is_open = False
            self.health.detail = "closed"

    def _switch(self, unlocked: bool) -> None:
        with self._lock:
            self.unlocked = unlocked
            self.transitions.append((self.clock(), unlocked))
            if self.state_file is not None:
                write_state_file(self.state_file, unlocked)


def write_state_file(path: Path, unlocked: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "w") as out:
        out.write(json.dumps({"unlocked": unlocked, "at": time.time(), "pid": os.getpid()}))
        out.flush()
        os.fsync(out.fileno())      # before the rename: a power cut must not leave an empty state file
    os.replace(tmp, path)


def read_state_file(path: Path) -> Optional[bool]:
    """True = unlocked, False = locked, None = no state written yet."""
    try:
        return bool(json.loads(path.read_text())["unlocked"])
    except FileNotFoundError:
        return None
