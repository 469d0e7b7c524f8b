"""The thermal sensor interface the daemon uses, whatever the transport."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..health import DeviceHealth


class ThermalError(Exception):
    """The sensor cannot deliver a frame (bus error after retries, timeout, invalid EEPROM)."""


@dataclass(frozen=True)
class ThermalGeometry:
    """What a sensor's frames cover: rows x cols pixels over a field of view (degrees, horizontal x vertical).

    Each driver declares its own (an MLX90640 is 24 x 32 over 55 x 35 or 110 x 75 degrees, by lens); the
    rig, the measurement regions and the simulator are sized from it, never from a constant."""

    rows: int
    cols: int
    fov_deg: tuple[float, float]

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1 or not all(0 < angle < 180 for angle in self.fov_deg):
            raise ValueError(f"impossible thermal geometry {self.rows}x{self.cols} over {self.fov_deg} degrees")

    @property
    def resolution(self) -> tuple[int, int]:
        return self.rows, self.cols


@dataclass(frozen=True)
class ThermalFrame:
    temperatures: np.ndarray        # (rows, cols) float32, object temperature in C, row-major sensor order
    ambient_c: float                # sensor die temperature Ta in C
    timestamp: float                # time.monotonic() when the frame was complete
    seq: int                        # increasing frame number
    flagged: Optional[np.ndarray] = None  # (rows, cols) bool: pixels interpolated (broken/outlier), if any
    geometry: ThermalGeometry = field(kw_only=True)   # the sensor's resolution and field of view

    def __post_init__(self) -> None:
        if self.temperatures.shape != self.geometry.resolution:
            raise ValueError(f"thermal frame of shape {self.temperatures.shape} from a sensor of "
                             f"{self.geometry.rows}x{self.geometry.cols} pixels")

    @property
    def resolution(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.geometry.resolution

    @property
    def fov_deg(self) -> tuple[float, float]:
        """(horizontal, vertical) field of view in degrees."""
        return self.geometry.fov_deg


class ThermalSensor(ABC):
    """A blocking source of full thermal frames; `read` runs in a worker thread."""

    health: DeviceHealth
    geometry: ThermalGeometry       # known from construction, before `open`; every frame carries it

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
