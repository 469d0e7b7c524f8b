"""MLX90640 register access and subpage acquisition over an smbus2-compatible bus (`i2c_rdwr`).

Wire format: a read is one combined transfer, write(16-bit register address, big-endian) + read(2n bytes);
a write is write(address, word), words big-endian. The RAM (832 words) is read in `chunk_words` words per
transfer: one transfer of 1664 bytes when the adapter allows it (Linux i2c-dev does).

Acquisition of one subpage:

1. poll the status register until "new data" (bit 3) is set; polls are paced from the refresh period;
2. read the RAM, then the status register again: if the subpage bits changed during the read the data
   may mix two subpages and are discarded;
3. clear "new data" with overwrite disabled (status = 0), so the device cannot write RAM between the
   flag going up and the host reading it, then read the status back: a bit that stays set is a stuck
   flag, after which new data is recognised by the subpage bit toggling instead, and overwrite is enabled
   (the device may not see the flag cleared either; step 2 still catches a read that straddles a write).

A subpage is *late* (discarded) when more than 1.5 refresh periods passed between the moment it could
have been measured (the last empty poll or clear) and the moment it was seen: its age is unknown.
`RawSubpage.follows_previous` tells whether it is the measurement right after the previous subpage,
which is the condition for pairing two subpages into one frame.

Bus errors (EIO, NACK, timeout) are retried with exponential backoff; every error and recovery goes to
the `HealthMonitor`.
"""
from __future__ import annotations

import errno
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import smbus2
from smbus2 import i2c_msg

from ..hints import i2c_hint
from .health import HealthMonitor
from .registers import (
    CONTROL_REG,
    DEFAULT_ADDRESS,
    EEPROM_START,
    EEPROM_WORDS,
    RAM_START,
    RAM_WORDS,
    STATUS_NEW_DATA,
    STATUS_OVERWRITE,
    STATUS_REG,
    STATUS_SUBPAGE_MASK,
    control_word,
    refresh_hz_of,
)

TRANSIENT_ERRNOS = {errno.EIO, errno.ENXIO, errno.EREMOTEIO, errno.ETIMEDOUT, errno.EAGAIN, errno.EBUSY}
STATUS_CLEAR = 0x0000            # new data cleared, overwrite disabled
LATE_AFTER_PERIODS = 1.5
SETTLE_SUBPAGES = 1              # subpages dropped after (re)configuring: they may use the old settings


class Mlx90640Error(Exception):
    """The sensor cannot be used (bus cannot be opened, control register does not stick...)."""


class BusError(Mlx90640Error):
    """An I2C transfer failed after all retries."""


class SubpageTimeout(Mlx90640Error):
    """No subpage arrived within the timeout."""


@dataclass(frozen=True, eq=False)
class RawSubpage:
    words: np.ndarray            # (832,) int16, RAM 0x0400..0x073F
    subpage: int
    control: int                 # control register the measurement ran with
    timestamp: float             # clock() when the new data were seen
    follows_previous: bool       # the measurement directly after the previous RawSubpage


class I2cBus(Protocol):
    """The part of `smbus2.SMBus` the driver uses (the mock bus has it too)."""

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None: ...

    def close(self) -> None: ...


class Mlx90640I2C:
    """One MLX90640 at `address` on `bus` (an `smbus2.SMBus`, the mock bus, or a bus number to open)."""

    def __init__(self, bus: int | I2cBus, address: int = DEFAULT_ADDRESS, *, refresh_hz: float = 8.0, resolution_bits: int = 18,
                 chess: bool = True, chunk_words: int = RAM_WORDS, retries: int = 4, backoff_s: float = 0.001,
                 max_backoff_s: float = 0.05, monitor: HealthMonitor | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if not 1 <= chunk_words <= RAM_WORDS:
            raise ValueError(f"chunk_words {chunk_words} must be 1..{RAM_WORDS}")
        self.control = control_word(refresh_hz, resolution_bits, chess)   # validates the settings
        self.refresh_hz, self.resolution_bits, self.chess = refresh_hz, resolution_bits, chess
        self._bus_arg, self.address = bus, address
        self.chunk_words, self.retries = chunk_words, retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.monitor = monitor or HealthMonitor()
        self._clock, self._sleep = clock, sleep
        self.period = 1.0 / refresh_hz_of(self.control)
        self.stats = {"transfers": 0, "bytes": 0}
        self.ram_read_s = 0.0                      # duration of the last RAM read
        self._bus: I2cBus | None = None
        self._owns_bus = False
        self._stuck = False
        self._reset_timing()

    # -- lifecycle --------------------------------------------------------------------------------------------

    def open(self) -> np.ndarray:
        """Open the bus, read the EEPROM and configure the device; returns the 832 EEPROM words."""
        if self._bus is None:
            if isinstance(self._bus_arg, int):
                try:
                    self._bus = smbus2.SMBus(self._bus_arg)
                except OSError as exc:
                    raise Mlx90640Error(f"cannot open /dev/i2c-{self._bus_arg}: {exc.strerror or exc}"
                                        f"{i2c_hint(exc)}") from exc
                self._owns_bus = True
            else:
                self._bus = self._bus_arg
        eeprom = self.read_words(EEPROM_START, EEPROM_WORDS).view(np.uint16)
        self.configure()
        return eeprom

    def configure(self) -> None:
        """Write refresh rate, resolution and readout mode (keeping the other control bits), verify, clear status."""
        wanted = control_word(self.refresh_hz, self.resolution_bits, self.chess, base=self.read_register(CONTROL_REG))
        for _ in range(3):
            self.write_register(CONTROL_REG, wanted)
            if self.read_register(CONTROL_REG) == wanted:
                break
        else:
            raise Mlx90640Error(f"control register 0x800D does not keep 0x{wanted:04X}")
        self.control = wanted
        self.write_register(STATUS_REG, STATUS_CLEAR)
        self._reset_timing()
        self._settle = SETTLE_SUBPAGES

    def close(self) -> None:
        if self._bus is not None and self._owns_bus:
            self._bus.close()
        self._bus = None

    def _reset_timing(self) -> None:
        now = self._clock()
        self._window_start = now      # new data seen now could have been measured at any time after this
        self._seen_at: float | None = None
        self._last_bits: int | None = None
        self._last_clear: float | None = None
        self._last_window_start = now
        self._next_expected: float | None = None
        self._settle = 0

    # -- register access ---------------------------------------------------------------------------------------

    def _transfer(self, *msgs: i2c_msg) -> None:
        if self._bus is None:
            raise Mlx90640Error("sensor is not open")
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            self.stats["transfers"] += 1
            self.stats["bytes"] += sum(1 + m.len for m in msgs)
            try:
                self._bus.i2c_rdwr(*msgs)
            except OSError as exc:
                if exc.errno not in TRANSIENT_ERRNOS:
                    raise BusError(f"I2C transfer to 0x{self.address:02X} failed: {exc}") from exc
                self.monitor.bus_error(exc)
                if attempt == self.retries:
                    raise BusError(f"I2C transfer to 0x{self.address:02X} failed {self.retries + 1} times: {exc}") from exc
                self.monitor.count("retries")
                self._sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
            else:
                self.monitor.transfer_ok()
                return

    def read_words(self, start: int, count: int) -> np.ndarray:
        """`count` words from register `start`, in transfers of at most `chunk_words` words; int16."""
        parts = []
        for offset in range(0, count, self.chunk_words):
            n = min(self.chunk_words, count - offset)
            addr = start + offset
            read = i2c_msg.read(self.address, 2 * n)
            self._transfer(i2c_msg.write(self.address, [addr >> 8, addr & 0xFF]), read)
            parts.append(bytes(read))
        return np.frombuffer(b"".join(parts), dtype=">i2").astype(np.int16)

    def read_register(self, register: int) -> int:
        read = i2c_msg.read(self.address, 2)
        self._transfer(i2c_msg.write(self.address, [register >> 8, register & 0xFF]), read)
        data = bytes(read)
        return data[0] << 8 | data[1]

    def write_register(self, register: int, value: int) -> None:
        self._transfer(i2c_msg.write(self.address, [register >> 8, register & 0xFF, value >> 8, value & 0xFF]))

    # -- acquisition --------------------------------------------------------------------------------------------

    @property
    def stuck_new_data(self) -> bool:
        return self._stuck

    def read_subpage(self, timeout: float = 2.0) -> RawSubpage:
        """The next fresh subpage; raises SubpageTimeout when none arrives within `timeout` seconds."""
        deadline = self._clock() + timeout
        last_error: Exception | None = None
        while True:
            try:
                before = self._clock()
                status = self.read_register(STATUS_REG)
                if self._has_new_data(status):
                    raw = self._take(status, self._clock())
                    if raw is not None:
                        return raw
                    continue
                self._window_start = before      # no new data at `before`: a later one is measured after it
            except BusError as exc:
                last_error = exc
                self._sleep(self.max_backoff_s)
            now = self._clock()
            if now >= deadline:
                why = f" (last error: {last_error})" if last_error else ""
                raise SubpageTimeout(f"no subpage from MLX90640 at 0x{self.address:02X} within {timeout:g} s{why}")
            self._sleep(min(self._poll_delay(now), deadline - now))

    def _has_new_data(self, status: int) -> bool:
        if not status & STATUS_NEW_DATA:
            return False
        # With a stuck flag, a new subpage shows as a change of the subpage bits.
        return not self._stuck or (status & STATUS_SUBPAGE_MASK) != self._last_bits

    def _poll_delay(self, now: float) -> float:
        fine = max(self.period / 40.0, 0.0002)
        if self._next_expected is not None:
            early = self._next_expected - self.period / 8.0 - now
            if early > fine:
                return early
        return fine

    def _take(self, status: int, seen: float) -> RawSubpage | None:
        """Read, verify and acknowledge the subpage announced by `status`; None when it is discarded."""
        try:
            return self._take_checked(status, seen)
        except BaseException:
            self._last_clear = None          # whatever comes next does not pair with what came before
            raise

    def _take_checked(self, status: int, seen: float) -> RawSubpage | None:
        if self._seen_at is None:
            self._seen_at = seen
        bits = status & STATUS_SUBPAGE_MASK
        seen_at, window_start = self._seen_at, self._window_start
        if bits == self._last_bits and self._last_clear is not None and seen_at < self._last_window_start + 2 * self.period:
            # The same subpage again, sooner than the device can measure it: the flag came back without data.
            self._acknowledge(bits)
            return None
        late = seen_at - window_start > LATE_AFTER_PERIODS * self.period
        if late:
            words = None
        else:
            started = self._clock()
            words = self.read_words(RAM_START, RAM_WORDS)
            self.ram_read_s = self._clock() - started
        mixed = words is not None and (self.read_register(STATUS_REG) & STATUS_SUBPAGE_MASK) != bits
        # Is it the measurement right after the previous subpage (measured after that one's window start)?
        # Overwrite disabled: yes if the previous one was acknowledged before the next measurement could end.
        # Overwrite enabled (stuck flag): RAM holds the newest measurement, so it must be seen within two periods.
        if self._last_clear is None or bits == self._last_bits:
            follows = False
        elif self._stuck:
            follows = seen_at < self._last_window_start + 2 * self.period
        else:
            follows = self._last_clear < self._last_window_start + self.period
        self._acknowledge(bits)
        self._last_window_start = window_start
        discard = "late_discarded" if late else "mixed_discarded" if mixed else None
        if discard or self._settle:
            if discard:
                self.monitor.count(discard)
            else:
                self._settle -= 1
            self._last_clear = None
            return None
        self._next_expected = seen_at + self.period
        assert words is not None   # only a late subpage has none, and it was discarded above
        return RawSubpage(words, bits & 1, self.control, seen_at, follows)

    def _acknowledge(self, bits: int) -> None:
        """Clear "new data" and check that the flag really cleared. Overwrite stays disabled, except while the
        flag is stuck: then the device may not see it cleared either, and must be allowed to write new data."""
        before = self._clock()
        self.write_register(STATUS_REG, STATUS_OVERWRITE if self._stuck else STATUS_CLEAR)
        after_write = self._clock()
        after = self.read_register(STATUS_REG)
        stuck = bool(after & STATUS_NEW_DATA) and (after & STATUS_SUBPAGE_MASK) == bits
        if stuck and not self._stuck:
            self.monitor.count("stuck_new_data")
            self.monitor.set_problem("stuck", "status new-data bit does not clear; pacing reads by the subpage bit")
        elif not stuck and self._stuck:
            self.monitor.clear_problem("stuck")
        self._stuck = stuck
        self._last_bits = bits
        self._last_clear = after_write       # latest moment the flag can have been cleared
        self._window_start = before          # the next measurement ends after the clear started
        self._seen_at = None
