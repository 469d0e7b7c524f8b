"""An MLX90640 on I2C: subpages and full frames in degrees C, with health.

    sensor = Mlx90640(bus=1, refresh_hz=16, emissivity=0.98)   # /dev/i2c-1, or an SMBus / mock bus object
    sensor.open()                                               # reads and validates the EEPROM
    frame = sensor.read_frame()                                 # two consecutive subpages merged
    half = sensor.read_subpage()                                # or one subpage (384 pixels)
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..health import DeviceHealth
from .compute import Calculator, FrameDataError, SubpageResult
from .eeprom import Calibration, EepromError, parse_eeprom
from .health import HealthMonitor
from .i2c import I2cBus, Mlx90640Error, Mlx90640I2C, SubpageTimeout
from .registers import COLS, DEFAULT_ADDRESS, PIXELS, RAM_WORDS, ROWS


@dataclass(frozen=True, eq=False)
class Frame:
    temperatures: np.ndarray    # (24, 32) float64, object temperature in C
    ta: float                   # die temperature, mean of the two subpages
    vdd: float
    timestamp: float            # clock() when the second subpage was seen
    flagged: np.ndarray         # (24, 32) bool: broken/outlier pixels replaced by interpolation
    subpages: tuple[SubpageResult, SubpageResult]


class Mlx90640:
    """MLX90640 over I2C. `bus`: bus number (opens /dev/i2c-N with smbus2), an `smbus2.SMBus`, or a mock bus.

    refresh_hz: subpage rate 0.5..64 (a full frame takes two subpages); resolution_bits: ADC 16..19;
    chess: chess (True, Melexis' default) or interleaved readout; chunk_words: words per I2C read
    transfer (832 = the whole RAM in one transfer); emissivity and reflected_c (None = Ta - 8 C) go
    into every To calculation and can be changed between reads.
    """

    def __init__(self, bus: int | I2cBus = 1, address: int = DEFAULT_ADDRESS, *, refresh_hz: float = 8.0,
                 resolution_bits: int = 18, chess: bool = True, chunk_words: int = RAM_WORDS,
                 emissivity: float = 0.98, reflected_c: float | None = None, retries: int = 4,
                 errors_before_degraded: int = 5, health: DeviceHealth | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if not 0.1 < emissivity <= 1.0:
            raise ValueError(f"emissivity {emissivity} must be in (0.1, 1]")
        self.monitor = HealthMonitor(errors_before_degraded, health)
        self.transport = Mlx90640I2C(bus, address, refresh_hz=refresh_hz, resolution_bits=resolution_bits, chess=chess,
                                     chunk_words=chunk_words, retries=retries, monitor=self.monitor,
                                     clock=clock, sleep=sleep)
        self.emissivity, self.reflected_c = emissivity, reflected_c
        self._clock = clock
        self._calc: Calculator | None = None
        self._pending: SubpageResult | None = None

    @property
    def health(self) -> DeviceHealth:
        return self.monitor.health

    @property
    def calibration(self) -> Calibration:
        if self._calc is None:
            raise Mlx90640Error("sensor is not open")
        return self._calc.calibration

    @property
    def flagged(self) -> np.ndarray:
        """(24, 32) bool: pixels the EEPROM marks broken or outlier (interpolated in every output)."""
        return self._calc.flagged if self._calc is not None else np.zeros((ROWS, COLS), dtype=bool)

    def open(self) -> None:
        """Read and validate the EEPROM (EepromError if it is unusable), configure the device."""
        try:
            eeprom = self.transport.open()
            self._calc = Calculator(parse_eeprom(eeprom))
        except (EepromError, Mlx90640Error) as exc:
            self.monitor.set_problem("failed", str(exc))
            self.transport.close()
            raise
        self._pending = None

    def close(self) -> None:
        self.transport.close()
        self._calc = None

    def read_subpage(self, timeout: float = 2.0) -> SubpageResult:
        """The next fresh subpage's 384 temperatures."""
        self._pending = None
        return self._next_subpage(self._clock() + timeout)[0]

    def read_frame(self, timeout: float = 2.0) -> Frame:
        """The next full frame: two consecutively measured subpages. A half whose partner does not follow
        directly (a subpage was missed, or arrived late) is discarded, never merged."""
        deadline = self._clock() + timeout
        while True:
            result, raw_follows, seen = self._next_subpage(deadline)
            pending, self._pending = self._pending, result
            if pending is None:
                continue
            if raw_follows and pending.subpage != result.subpage:
                self._pending = None
                self.monitor.count("frames")
                return self._merge(pending, result, seen)
            self.monitor.count("late_discarded")

    def _next_subpage(self, deadline: float) -> tuple[SubpageResult, bool, float]:
        if self._calc is None:
            raise Mlx90640Error("sensor is not open")
        while True:
            remaining = deadline - self._clock()
            try:
                if remaining <= 0:
                    raise SubpageTimeout(f"no complete frame within the timeout{self._too_slow_hint()}")
                raw = self.transport.read_subpage(remaining)
            except SubpageTimeout as exc:
                self.monitor.set_problem("failed", str(exc))
                raise
            try:
                result = self._calc.subpage(raw.words, raw.subpage, raw.control, self.emissivity, self.reflected_c)
            except FrameDataError:
                self.monitor.count("invalid_frames")
                self._pending = None
                continue
            self.monitor.good_subpage()
            return result, raw.follows_previous, raw.timestamp

    def _too_slow_hint(self) -> str:
        """When reading the RAM takes about a refresh period, the sensor only ever delivers one of the subpages."""
        t = self.transport
        if t.ram_read_s < 0.9 * t.period:
            return ""
        return (f": reading the RAM takes {t.ram_read_s * 1e3:.0f} ms, about the {t.period * 1e3:.0f} ms refresh "
                "period; lower refresh_hz or raise the I2C clock")

    def _merge(self, first: SubpageResult, second: SubpageResult, timestamp: float) -> Frame:
        to = np.empty(PIXELS)
        to[first.pixels] = first.to
        to[second.pixels] = second.to
        return Frame(to.reshape(ROWS, COLS), (first.ta + second.ta) / 2, (first.vdd + second.vdd) / 2, timestamp,
                     self.flagged, (first, second))
