"""The thermal sensor interface the daemon uses, whatever the transport."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..health import DeviceHealth


class ThermalError(Exception):
    """The sensor cannot deliver a frame (bus error after retries, timeout, invalid EEPROM)."""


@dataclass(frozen=True)
class ThermalFrame:
    temperatures: np.ndarray        # (24, 32) float32, object temperature in C, row-major sensor order
    ambient_c: float                # sensor die temperature Ta in C
    timestamp: float                # time.monotonic() when the frame was complete
    seq: int                        # increasing frame number
    flagged: Optional[np.ndarray] = None  # (24, 32) bool: pixels interpolated (broken/outlier), if any


class ThermalSensor(ABC):
    """A blocking source of full thermal frames; `read` runs in a worker thread."""

    health: DeviceHealth

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self, timeout: float = 2.0) -> ThermalFrame: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> ThermalSensor:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
