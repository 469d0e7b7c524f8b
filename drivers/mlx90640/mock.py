"""A simulated MLX90640 behind a fake I2C bus, for tests, benchmarks and the scene simulator.

`MockMlx90640Bus` has the `smbus2.SMBus` method the driver uses (`i2c_rdwr` with `smbus2.i2c_msg`), so
the driver code that talks to a real `/dev/i2c-N` runs unchanged against it::

    def scene(t: float) -> tuple[np.ndarray, float]:
        temps = np.full((24, 32), 22.0); temps[8:16, 12:20] = 36.5     # a face in a 22 C room
        return temps, 30.0                                               # (object temperatures C, die Ta C)

    bus = MockMlx90640Bus(scene)                    # EEPROM of synthetic device 0, 0x33
    sensor = Mlx90640(bus, refresh_hz=16)           # or Mlx90640I2CSensor(bus=bus, ...)

Register map served: EEPROM 0x2400..0x273F (synthetic calibration from `synthetic.synthetic_eeprom`,
or any 832 words you pass), RAM 0x0400..0x073F, status 0x8000 and control 0x800D. The device
measures one subpage every 1/refresh seconds (refresh from the control register, 2 Hz at power-on),
alternating 0 and 1; each measurement calls `scene(t)` (t = seconds since the mock was created,
on its clock) and writes the RAM the real sensor would hold, by running Melexis' algorithm
backwards with `emissivity` and `reflected_c` (match them to the driver's settings to read the
scene back). Status bit 3 (new data) is set per measurement and cleared by writing 0 to it; with
bit 4 (overwrite enable) clear, a measurement that finds bit 3 still set is not written to RAM
(counted in `stats["blocked"]`), as on the device.

Fault injection: `fail_next(n, errno)` (EIO bursts, NACKs = ENXIO/EREMOTEIO, ETIMEDOUT), `offline`
(every transfer NACKs), `stuck_new_data` (status bit 3 reads 1 and writes cannot clear it, so with
overwrite disabled the device stops updating RAM), `corrupt_eeprom(kind)`.
`bus_hz` makes every transfer take the time it would at that SCL frequency (9 bits per byte).
Pixels the EEPROM marks broken or outlier read a nonsense raw value (the driver must interpolate them).
"""
from __future__ import annotations

import errno
import math
import threading
import time
from collections.abc import Callable
from ctypes import memmove

import numpy as np

from .compute import Calculator, subpage_pixels
from .eeprom import parse_eeprom
from .inverse import RamSynthesizer
from .registers import (
    CONTROL_CHESS,
    CONTROL_DEFAULT,
    CONTROL_REG,
    DEFAULT_ADDRESS,
    EEPROM_START,
    EEPROM_WORDS,
    PIXELS,
    RAM_START,
    RAM_WORDS,
    STATUS_NEW_DATA,
    STATUS_OVERWRITE,
    STATUS_REG,
    STATUS_SUBPAGE_MASK,
    refresh_hz_of,
)
from .synthetic import synthetic_eeprom

Scene = Callable[[float], tuple[np.ndarray, float]]
I2C_M_RD = 0x0001
WRITABLE = {STATUS_REG, CONTROL_REG, 0x800F}     # status, control 1, I2C configuration
BAD_PIXEL_WORD = 3000                            # what the EEPROM's broken/outlier pixels read


def uniform_scene(object_c: float = 25.0, die_c: float = 30.0) -> Scene:
    """A scene callable: every pixel at `object_c`, sensor die at `die_c`."""
    temps = np.full((24, 32), float(object_c))
    return lambda t: (temps, die_c)


class MockMlx90640Bus:
    """Fake `smbus2.SMBus` serving one simulated MLX90640 (see the module docstring)."""

    def __init__(self, scene: Scene | None = None, *, address: int = DEFAULT_ADDRESS, eeprom: np.ndarray | None = None,
                 seed: int = 0, emissivity: float = 0.98, reflected_c: float | None = None, vdd: float = 3.3,
                 noise_lsb: float = 0.0, bus_hz: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.scene = scene or uniform_scene()
        self.address = address
        self.emissivity, self.reflected_c, self.vdd = emissivity, reflected_c, vdd
        self.bus_hz = bus_hz
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._eeprom_good = (synthetic_eeprom(seed) if eeprom is None else np.asarray(eeprom)).astype(np.uint16)
        calibration = parse_eeprom(self._eeprom_good)
        self._synth = RamSynthesizer(Calculator(calibration), noise_lsb=noise_lsb, seed=seed)
        self._bad_pixels = calibration.bad_pixels
        self._mem = np.zeros(0x10000, dtype=np.uint16)
        self._mem[EEPROM_START:EEPROM_START + EEPROM_WORDS] = self._eeprom_good
        self._ram = np.zeros(RAM_WORDS, dtype=np.int16)
        self._pointer = 0
        self._t_created = clock()
        self.stats = {"transfers": 0, "bytes": 0, "measured": 0, "blocked": 0, "overwritten": 0, "errors": 0}
        self.measurement_times: list[float] = []    # scene time of every subpage computed into RAM
        self._fail: list[int] = []
        self.offline = False
        self.stuck_new_data = False
        # Power-on: control register from EEPROM 0x240C, both subpages measured once, no new data pending.
        self._status = 0
        self._t0, self._period, self._done = clock(), 0.5, 0
        self._set_control(int(self._eeprom_good[12]) or CONTROL_DEFAULT, restart=True)
        for subpage in (0, 1):
            self._measure(subpage, 0.0)
        self._status = 1

    # -- smbus2.SMBus surface ---------------------------------------------------------------------------------

    def i2c_rdwr(self, *msgs) -> None:
        with self._lock:
            self.stats["transfers"] += 1
            nbytes = sum(1 + m.len for m in msgs)
            self.stats["bytes"] += nbytes
            if self.bus_hz:
                self._sleep((nbytes * 9 + 2) / self.bus_hz)
            if self.offline or any(m.addr != self.address for m in msgs):
                self.stats["errors"] += 1
                raise OSError(errno.ENXIO, "No such device or address (NACK)")
            if self._fail:
                self.stats["errors"] += 1
                code = self._fail.pop(0)
                raise OSError(code, f"{errno.errorcode.get(code, code)} (injected)")
            self._advance()
            for m in msgs:
                if m.flags & I2C_M_RD:
                    self._read(m)
                else:
                    self._write(bytes(m))

    def close(self) -> None:
        """Nothing to release (an `SMBus` closes its file descriptor)."""

    def __enter__(self) -> MockMlx90640Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- fault injection ----------------------------------------------------------------------------------------

    def fail_next(self, count: int, code: int = errno.EIO) -> None:
        """The next `count` transfers raise OSError(code): EIO, ENXIO/EREMOTEIO (NACK) or ETIMEDOUT."""
        with self._lock:
            self._fail.extend([code] * count)

    def corrupt_eeprom(self, kind: str) -> None:
        """Serve a bad EEPROM: 'zeros', 'ones', 'gain' (gainEE = 0), 'adjacent' (two adjacent broken pixels)
        or 'restore' (the good image again)."""
        ee = self._eeprom_good.copy()
        if kind == "zeros":
            ee[:] = 0
        elif kind == "ones":
            ee[:] = 0xFFFF
        elif kind == "gain":
            ee[48] = 0
        elif kind == "adjacent":
            ee[64 + 100] = ee[64 + 101] = 0
        elif kind != "restore":
            raise ValueError(f"unknown EEPROM corruption {kind!r}")
        with self._lock:
            self._mem[EEPROM_START:EEPROM_START + EEPROM_WORDS] = ee

    @property
    def control(self) -> int:
        return int(self._mem[CONTROL_REG])

    def scene_time(self) -> float:
        return self._clock() - self._t_created

    # -- device model -------------------------------------------------------------------------------------------

    def _set_control(self, value: int, restart: bool = False) -> None:
        old = int(self._mem[CONTROL_REG])
        self._mem[CONTROL_REG] = value
        if value != old or restart:
            # A new configuration restarts the measurement sequence at subpage 0.
            self._t0 = self._clock()
            self._period = 1.0 / refresh_hz_of(value)
            self._done = 0

    def _advance(self) -> None:
        """Complete the measurements whose time has come (only the ones that can still reach RAM are computed)."""
        due = math.floor((self._clock() - self._t0) / self._period)
        if due <= self._done:
            return
        pending = range(self._done, due)
        self._done = due
        self.stats["measured"] += len(pending)
        if not self._status & STATUS_OVERWRITE:
            # Overwrite disabled: only a measurement that finds "new data" clear reaches RAM.
            if self._status & STATUS_NEW_DATA:
                self.stats["blocked"] += len(pending)
                return
            written = pending[:1]
            self.stats["blocked"] += len(pending) - 1
        else:
            # Overwrite enabled: each measurement replaces unread data; only the last two can still be read.
            self.stats["overwritten"] += len(pending) - (0 if self._status & STATUS_NEW_DATA else 1)
            written = pending[-2:]
        for k in written:
            self._measure(k % 2, self._t0 + (k + 1) * self._period - self._t_created)
            self._status = (self._status & ~STATUS_SUBPAGE_MASK) | STATUS_NEW_DATA | (k % 2)

    def _measure(self, subpage: int, t: float) -> None:
        temps, die_c = self.scene(t)
        temps = np.asarray(temps, dtype=np.float64)
        if temps.size != PIXELS:
            raise ValueError(f"scene returned {temps.shape}, expected (24, 32) temperatures")
        if not (np.isfinite(temps).all() and np.isfinite(die_c)):
            raise ValueError("scene returned non-finite temperatures")
        self._synth.subpage_words(self._ram, temps, float(die_c), subpage, self.control, self.emissivity,
                                  self.reflected_c, self.vdd)
        # Broken and outlier pixels read nonsense, as on a real device.
        bad = np.intersect1d(self._bad_pixels, subpage_pixels(subpage, bool(self.control & CONTROL_CHESS)))
        self._ram[bad] = BAD_PIXEL_WORD
        self._mem[RAM_START:RAM_START + RAM_WORDS] = self._ram.view(np.uint16)
        self.measurement_times.append(t)

    def _status_word(self) -> int:
        return self._status | (STATUS_NEW_DATA if self.stuck_new_data else 0)

    def _read(self, msg) -> None:
        if msg.len % 2:
            raise OSError(errno.EIO, "odd read length")
        self._mem[STATUS_REG] = self._status_word()
        start, count = self._pointer, msg.len // 2
        idx = (np.arange(start, start + count) & 0xFFFF) if start + count > 0x10000 else slice(start, start + count)
        data = self._mem[idx].astype(">u2").tobytes()
        memmove(msg.buf, data, len(data))
        self._pointer = (start + count) & 0xFFFF

    def _write(self, data: bytes) -> None:
        if len(data) < 2 or len(data) % 2:
            raise OSError(errno.EIO, "register writes are a 16-bit address plus 16-bit words")
        self._pointer = data[0] << 8 | data[1]
        for i in range(2, len(data), 2):
            value = data[i] << 8 | data[i + 1]
            if self._pointer == STATUS_REG:
                # Bits 0..2 are read-only; writing 0 to bit 3 clears "new data"; bits 4, 5 are stored.
                keep = self._status & STATUS_SUBPAGE_MASK
                new_data = self._status & STATUS_NEW_DATA & (0xFFFF if self.stuck_new_data else value)
                self._status = keep | new_data | (value & 0x0030)
            elif self._pointer == CONTROL_REG:
                self._set_control(value)
            elif self._pointer in WRITABLE:
                self._mem[self._pointer] = value
            self._pointer = (self._pointer + 1) & 0xFFFF
