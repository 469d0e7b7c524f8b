"""The camera interface."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..health import DeviceHealth


class CameraError(Exception):
    """The camera cannot deliver frames (not found, unplugged, timed out)."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # H x W x 3, uint8, BGR (OpenCV order)
    timestamp: float   # time.monotonic() at capture
    seq: int           # increasing frame number


class Camera(ABC):
    """A blocking frame source. `read` is called from a worker thread, never from the event loop."""

    health: DeviceHealth

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self, timeout: float = 1.0) -> Frame:
        """The next frame; raises CameraError when none comes within `timeout` seconds."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Camera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
