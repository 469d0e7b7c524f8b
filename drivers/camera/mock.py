"""A camera that renders frames from a callable (the scene simulator), paced at a frame rate."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..health import DeviceHealth, HealthState
from .base import Camera, CameraError, Frame

Renderer = Callable[[float], np.ndarray]  # the timebase's time -> H x W x 3 uint8 BGR image
WAIT_SLICE_S = 0.05                       # how often a waiting read notices that the camera was closed


class Timebase(Protocol):
    """Where the camera's time comes from: the wall clock, or the simulator's clock that waits for the kiosk."""

    def now(self) -> float: ...

    def wait_until(self, t: float, timeout: float, /) -> bool: ...   # True once now() >= t; False after `timeout` s


class WallClock:
    """time.monotonic, waited for by sleeping."""

    def now(self) -> float:
        return time.monotonic()

    def wait_until(self, t: float, timeout: float, /) -> bool:
        time.sleep(max(0.0, min(t - time.monotonic(), timeout)))
        return time.monotonic() >= t


class MockCamera(Camera):
    """Frames come from `render(t)`; `read` waits for the next frame slot like a real camera does.

    Slots and timestamps are on `timebase` (default the wall clock): on the simulator's clock a frame is due when
    the scene has got there, however long the kiosk made it wait."""

    def __init__(self, render: Renderer, fps: float = 15.0, timebase: Timebase | None = None) -> None:
        self._render = render
        self._period = 1.0 / fps
        self._time = timebase or WallClock()
        self._next = 0.0
        self._seq = 0
        self._opened = False
        self._closed = threading.Event()
        self.health = DeviceHealth(HealthState.failed, "not opened")

    def open(self) -> None:
        self._opened = True
        self._closed.clear()
        self._next = self._time.now()
        self.health = DeviceHealth(HealthState.ok, "simulated camera")

    def read(self, timeout: float = 1.0) -> Frame:
        if not self._opened:
            raise CameraError("camera is not open")
        if self._next - self._time.now() > timeout:
            raise CameraError(f"no frame within {timeout:.1f} s")
        while not self._time.wait_until(self._next, WAIT_SLICE_S):
            if self._closed.is_set():
                raise CameraError("camera closed")
        if self._closed.is_set():
            raise CameraError("camera closed")
        now = self._time.now()
        self._next = max(self._next + self._period, now)
        image = self._render(now)
        self._seq += 1
        return Frame(image=image, timestamp=now, seq=self._seq)

    def close(self) -> None:
        self._opened = False
        self._closed.set()
