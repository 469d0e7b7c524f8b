"""A camera that renders frames from a callable (the scene simulator), paced at a frame rate."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from ..health import DeviceHealth, HealthState
from .base import Camera, CameraError, Frame

Renderer = Callable[[float], np.ndarray]  # monotonic time -> H x W x 3 uint8 BGR image


class MockCamera(Camera):
    """Frames come from `render(t)`; `read` waits for the next frame slot like a real camera does."""

    def __init__(self, render: Renderer, fps: float = 15.0) -> None:
        self._render = render
        self._period = 1.0 / fps
        self._next = 0.0
        self._seq = 0
        self._opened = False
        self._closed = threading.Event()
        self.health = DeviceHealth(HealthState.failed, "not opened")

    def open(self) -> None:
        self._opened = True
        self._closed.clear()
        self._next = time.monotonic()
        self.health = DeviceHealth(HealthState.ok, "simulated camera")

    def read(self, timeout: float = 1.0) -> Frame:
        if not self._opened:
            raise CameraError("camera is not open")
        wait = self._next - time.monotonic()
        if wait > timeout:
            raise CameraError(f"no frame within {timeout:.1f} s")
        if wait > 0 and self._closed.wait(wait):
            raise CameraError("camera closed")
        now = time.monotonic()
        self._next = max(self._next + self._period, now)
        image = self._render(now)
        self._seq += 1
        return Frame(image=image, timestamp=now, seq=self._seq)

    def close(self) -> None:
        self._opened = False
        self._closed.set()
