"""A stand-in for a GPIO chip at the hardware edge, with libgpiod v2's request interface.

`FakeGpioChip.request_lines` has the signature of `gpiod.request_lines` and returns a request
object with the methods the drivers use (set_value, get_value, release, fd, read_edge_events,
wait_edge_events), taking the real `gpiod.LineSettings` and returning real `gpiod.EdgeEvent`s.
It behaves like the kernel where the drivers depend on it: active-low inverts the physical
level, an output starts at its requested value, a line stays at its last level after release,
a requested line is busy for other requests, and edge events are reported as logical edges.
Used by tests, benchmarks and installers without hardware; never by the daemon.
"""
from __future__ import annotations

import errno
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Optional

import gpiod
from gpiod.line import Bias, Direction, Edge, Value


class FakeGpioChip:
    def __init__(self, path: str = "/dev/gpiochip0", num_lines: int = 54, *, log_path: Optional[Path] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.num_lines = num_lines
        self.log_path = log_path          # every level change appended as "<clock> <offset> <level>"
        self.clock = clock
        self.history: list[tuple[float, int, int]] = []   # (clock(), offset, physical level)
        self._levels: dict[int, int] = {}
        self._external: dict[int, int] = {}               # levels driven from outside on input lines
        self._owners: dict[int, FakeLineRequest] = {}
        self._lock = threading.RLock()

    # The world side -------------------------------------------------------------------------
    def level(self, offset: int) -> int:
        """Physical level of a line (0 or 1)."""
        with self._lock:
            return self._levels.get(offset, 0)

    def drive_input(self, offset: int, level: int) -> None:
        """Something outside (a door contact, a button) pulls the line to `level`."""
        with self._lock:
            self._external[offset] = level
            owner = self._owners.get(offset)
            if owner is not None and owner.settings[offset].direction == Direction.INPUT:
                owner._input_changed(offset, level)
            else:
                self._set_level(offset, level)

    # gpiod.request_lines ---------------------------------------------------------------------
    def request_lines(self, path: str, config: dict, consumer: Optional[str] = None,
                      event_buffer_size: Optional[int] = None,
                      output_values: Optional[dict] = None) -> FakeLineRequest:
        if path != self.path:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        settings: dict[int, gpiod.LineSettings] = {}
        for key, value in config.items():
            for offset in (key if isinstance(key, Iterable) and not isinstance(key, str) else (key,)):
                if not isinstance(offset, int) or not 0 <= offset < self.num_lines:
                    raise ValueError(f"invalid line offset {offset!r} on {self.path}")
                settings[offset] = value or gpiod.LineSettings()
        with self._lock:
            for offset in settings:
                if offset in self._owners:
                    raise OSError(errno.EBUSY, "Device or resource busy")
            request = FakeLineRequest(self, settings, consumer)
            for offset, line in settings.items():
                self._owners[offset] = request
                if line.direction == Direction.OUTPUT:
                    value = (output_values or {}).get(offset, line.output_value)
                    self._set_level(offset, _physical(value, line.active_low))
                elif line.direction == Direction.INPUT:
                    self._set_level(offset, self._input_level(offset, line))
            return request

    # internals --------------------------------------------------------------------------------
    def _input_level(self, offset: int, line: gpiod.LineSettings) -> int:
        if offset in self._external:
            return self._external[offset]
        if line.bias == Bias.PULL_UP:
            return 1
        if line.bias == Bias.PULL_DOWN:
            return 0
        return self._levels.get(offset, 0)

    def _set_level(self, offset: int, level: int) -> None:
        self._levels[offset] = level
        now = self.clock()
        self.history.append((now, offset, level))
        if self.log_path is not None:
            with open(self.log_path, "a") as log:
                log.write(f"{now:.6f} {offset} {level}\n")

    def _release(self, request: FakeLineRequest) -> None:
        with self._lock:
            for offset in request.settings:
                if self._owners.get(offset) is request:
                    del self._owners[offset]


class FakeLineRequest:
    def __init__(self, chip: FakeGpioChip, settings: dict[int, gpiod.LineSettings], consumer: Optional[str]) -> None:
        self.chip = chip
        self.settings = settings
        self.consumer = consumer
        self.released = False
        self._events: list[gpiod.EdgeEvent] = []
        self._seqno = 0
        self._read_fd, self._write_fd = os.pipe()   # readable while events are pending, like the kernel fd

    @property
    def offsets(self) -> list[int]:
        return list(self.settings)

    @property
    def fd(self) -> int:
        return self._read_fd

    def fileno(self) -> int:
        return self._read_fd

    def set_value(self, line: int, value: Value) -> None:
        self._check(line)
        settings = self.settings[line]
        if settings.direction != Direction.OUTPUT:
            raise OSError(errno.EPERM, "Operation not permitted")
        with self.chip._lock:
            self.chip._set_level(line, _physical(value, settings.active_low))

    def get_value(self, line: int) -> Value:
        self._check(line)
        level = self.chip.level(line)
        return Value.ACTIVE if level ^ int(self.settings[line].active_low) else Value.INACTIVE

    def get_values(self, lines: Optional[Iterable[int]] = None) -> list[Value]:
        return [self.get_value(line) for line in (lines if lines is not None else self.offsets)]

    def wait_edge_events(self, timeout: timedelta | float | None = None) -> bool:
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        ready, _, _ = select.select([self._read_fd], [], [], seconds)
        return bool(ready)

    def read_edge_events(self, max_events: Optional[int] = None) -> list[gpiod.EdgeEvent]:
        self._check()
        with self.chip._lock:
            count = len(self._events) if max_events is None else min(max_events, len(self._events))
            events, self._events = self._events[:count], self._events[count:]
        if events:
            os.read(self._read_fd, len(events))
        return events

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self.chip._release(self)
        os.close(self._read_fd)
        os.close(self._write_fd)

    def _check(self, line: Optional[int] = None) -> None:
        if self.released:
            raise gpiod.RequestReleasedError()
        if line is not None and line not in self.settings:
            raise ValueError(f"line {line} is not part of this request")

    def _input_changed(self, offset: int, level: int) -> None:
        old = self.chip.level(offset)
        self.chip._set_level(offset, level)
        if old == level:
            return
        settings = self.settings[offset]
        rising = bool(level ^ int(settings.active_low))
        wanted = {Edge.BOTH: True, Edge.RISING: rising, Edge.FALLING: not rising}.get(settings.edge_detection, False)
        if not wanted:
            return
        self._seqno += 1
        kind = gpiod.EdgeEvent.Type.RISING_EDGE if rising else gpiod.EdgeEvent.Type.FALLING_EDGE
        self._events.append(gpiod.EdgeEvent(kind.value, time.monotonic_ns(), offset, self._seqno, self._seqno))
        os.write(self._write_fd, b"e")


def _physical(value: Value, active_low: bool) -> int:
    return int(value == Value.ACTIVE) ^ int(active_low)
