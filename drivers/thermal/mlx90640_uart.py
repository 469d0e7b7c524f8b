"""ThermalSensor for a GY-MCU90640 UART module (the module's MCU computes the temperatures)."""
from __future__ import annotations

import itertools
import time

import numpy as np
import serial

from ..health import DeviceHealth, HealthState
from ..mlx90640.lens import STANDARD_LENS, mlx90640_geometry
from ..mlx90640.uart import GyMcu90640, UartError, UartPortError
from .base import ThermalError, ThermalFrame, ThermalSensor


class Mlx90640UartSensor(ThermalSensor):
    """Full frames from a GY-MCU90640 module on a serial port.

    Arguments (kiosk/config/thermal.py `[thermal]`): port (`uart_port`, e.g. /dev/ttyUSB0, /dev/serial0, or an
    open `serial.Serial`), baud (`uart_baud`: 9600, 115200 or 460800, what the module is set to),
    emissivity (`emissivity`, sent to the module at open; the module applies it in its own calculation),
    lens ("55x35" or "110x75", `temperature.sensor_fov`: the field of view frames carry).
    The module has no broken-pixel information, so `flagged` is None; its update rate is set with
    `self.module.set_rate(hz)` (takes effect after a power cycle).

    Health: degraded when frames with bad checksums arrived since the last read (garbage between frames is
    only counted: a reader joining a running stream always starts mid-frame), failed when no valid frame comes
    within the read timeout or the port fails (the next `read` reopens the port), ok again once frames are clean.
    """

    def __init__(self, port: str | serial.Serial = "/dev/ttyUSB0", baud: int = 115200, *,
                 emissivity: float | None = 0.98, lens: str = STANDARD_LENS) -> None:
        self.module = GyMcu90640(port, baud, emissivity=emissivity)
        self.health = DeviceHealth()
        self.geometry = mlx90640_geometry(lens)
        self._seq = itertools.count(1)
        self._seen_bad = 0

    def open(self) -> None:
        try:
            self.module.open()
        except UartError as exc:
            self._set(HealthState.failed, str(exc))
            raise ThermalError(str(exc)) from exc

    def read(self, timeout: float = 2.0) -> ThermalFrame:
        try:
            if not self.module.is_open:
                self.module.open()
            frame = self.module.read_frame(timeout)
        except UartError as exc:
            if isinstance(exc, UartPortError):
                self.module.close()                 # reopened by the next read
            self._set(HealthState.failed, str(exc))
            raise ThermalError(str(exc)) from exc
        finally:
            self.health.counters.update(self.module.sync.counters, late_discarded=self.module.late_discarded)
        bad = self.module.sync.counters["bad_checksum"]
        if bad > self._seen_bad:
            self._set(HealthState.degraded, f"corrupt serial frames ({bad - self._seen_bad} bad checksums before this frame)")
        elif self.health.state is not HealthState.ok:
            self._set(HealthState.ok, "recovered")
        self._seen_bad = bad
        return ThermalFrame(temperatures=frame.temperatures.astype(np.float32), ambient_c=frame.ta,
                            timestamp=time.monotonic(), seq=next(self._seq), geometry=self.geometry)

    def close(self) -> None:
        self.module.close()

    def _set(self, state: HealthState, detail: str) -> None:
        self.health.state, self.health.detail = state, detail
