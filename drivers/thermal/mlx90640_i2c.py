"""ThermalSensor for an MLX90640 on I2C: a real `/dev/i2c-N` or the register-level mock bus."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np

from ..mlx90640.eeprom import EepromError
from ..mlx90640.i2c import I2cBus, Mlx90640Error
from ..mlx90640.lens import STANDARD_LENS, mlx90640_geometry
from ..mlx90640.registers import DEFAULT_ADDRESS, RAM_WORDS
from ..mlx90640.sensor import Mlx90640
from .base import ThermalError, ThermalFrame, ThermalSensor


class Mlx90640I2CSensor(ThermalSensor):
    """Full 24x32 frames (two subpages) from an MLX90640 on I2C.

    Arguments map one to one onto `[thermal]` in kiosk/config/thermal.py:

    - bus: I2C bus number (`i2c_bus`, opens /dev/i2c-N), or a bus object with smbus2's `i2c_rdwr`:
      an `smbus2.SMBus` or `drivers.mlx90640.mock.MockMlx90640Bus` (backend "mock")
    - address: 7-bit address (`i2c_address`, 0x33)
    - refresh_hz: subpage rate, 0.5..64 (`refresh_hz`); full frames arrive at half this rate
    - adc_resolution: 16..19 bit (`adc_resolution`); mode: "chess" or "interleaved" (`mode`)
    - chunk_words: words per I2C read transfer, 832 = whole RAM at once (`i2c_chunk_words`)
    - emissivity (`emissivity`), reflected_c: reflected temperature, None = sensor Ta - 8 C (`reflected_c`);
      both can be changed on `self.device` between reads (e.g. from an ambient sensor)
    - max_errors_before_degraded: consecutive bus errors before health turns degraded
      (`max_errors_before_degraded`)
    - lens: "55x35" (BAB) or "110x75" (BAA, wide) (`temperature.sensor_fov`): the field of view frames carry
    - clock, sleep: the driver's time (the scene simulator's clock for the mock bus; frame timestamps are on it)

    `open()` raises ThermalError if the bus cannot be opened or the EEPROM is refused; `read()` raises
    ThermalError when no frame arrives within the timeout (health "failed" until frames flow again).
    """

    def __init__(self, bus: int | I2cBus = 1, address: int = DEFAULT_ADDRESS, *, refresh_hz: float = 8.0,
                 adc_resolution: int = 18, mode: str = "chess", chunk_words: int = RAM_WORDS, emissivity: float = 0.98,
                 reflected_c: float | None = None, max_errors_before_degraded: int = 5,
                 lens: str = STANDARD_LENS, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if mode not in ("chess", "interleaved"):
            raise ValueError(f"mode {mode!r} must be 'chess' or 'interleaved'")
        self.device = Mlx90640(bus, address, refresh_hz=refresh_hz, resolution_bits=adc_resolution, chess=mode == "chess",
                               chunk_words=chunk_words, emissivity=emissivity, reflected_c=reflected_c,
                               errors_before_degraded=max_errors_before_degraded, clock=clock, sleep=sleep)
        self.health = self.device.health
        self.geometry = mlx90640_geometry(lens)
        self._seq = itertools.count(1)

    def open(self) -> None:
        try:
            self.device.open()
        except (EepromError, Mlx90640Error) as exc:
            raise ThermalError(str(exc)) from exc

    def read(self, timeout: float = 2.0) -> ThermalFrame:
        try:
            frame = self.device.read_frame(timeout)
        except Mlx90640Error as exc:
            raise ThermalError(str(exc)) from exc
        flagged = frame.flagged if frame.flagged.any() else None
        return ThermalFrame(temperatures=frame.temperatures.astype(np.float32), ambient_c=frame.ta,
                            timestamp=frame.timestamp, seq=next(self._seq), flagged=flagged,
                            geometry=self.geometry)

    def close(self) -> None:
        self.device.close()
