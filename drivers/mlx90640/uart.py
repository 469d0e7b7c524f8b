"""A GY-MCU90640 module (MLX90640 plus an MCU that streams finished temperatures) on a serial port.

    module = GyMcu90640("/dev/ttyUSB0", baud=115200, emissivity=0.98)
    module.open()                       # 8N1, no flow control; sends emissivity and "automatic output"
    frame = module.read_frame()         # the next complete, checksum-valid frame

Frames that were decoded but not collected for longer than `stale_after_s` are dropped at the next
read (counted as late): the caller always gets a frame that finished after it asked, or just before.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import serial

from ..hints import serial_hint
from .uart_protocol import (
    AUTO_OUTPUT,
    FRAME_BYTES,
    QUERY_EMISSIVITY,
    SAVE_SETTINGS,
    FrameSync,
    UartFrame,
    baud_command,
    emissivity_command,
    rate_command,
)


class UartError(Exception):
    """The module did not answer in time (no valid frame, no emissivity reply); base of UartPortError."""


class UartPortError(UartError):
    """The serial port itself failed (cannot open, read or write): reopen it."""


class GyMcu90640:
    """GY-MCU90640 over pyserial. `port`: a device path or an open `serial.Serial`-like object."""

    def __init__(self, port: str | serial.Serial, baud: int = 115200, *, emissivity: float | None = None,
                 stale_after_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._port_arg, self.baud = port, baud
        self.emissivity = emissivity
        # Two frame times on the wire (10 bits per byte), at least 0.3 s.
        self.stale_after_s = stale_after_s if stale_after_s is not None else max(0.3, 2 * FRAME_BYTES * 10 / baud)
        self._clock = clock
        self._serial: serial.Serial | None = None
        self._owns_port = False
        self.sync = FrameSync()
        self._frames: deque[UartFrame] = deque()
        self._last_read: float | None = None
        self.late_discarded = 0

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        if isinstance(self._port_arg, str):
            try:
                self._serial = serial.Serial(self._port_arg, self.baud, bytesize=8, parity="N", stopbits=1,
                                             timeout=0.05, xonxoff=False, rtscts=False)
            except (serial.SerialException, OSError) as exc:
                raise UartPortError(f"cannot open {self._port_arg}: {exc}{serial_hint(exc)}") from exc
            self._owns_port = True
        else:
            self._serial = self._port_arg
        self.sync.reset()
        self._frames.clear()
        self._last_read = None
        if self.emissivity is not None:
            self.send(emissivity_command(self.emissivity))
        self.send(AUTO_OUTPUT)

    def close(self) -> None:
        if self._serial is not None and self._owns_port:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass                                  # the port is already gone
        self._serial = None

    def send(self, data: bytes) -> None:
        if self._serial is None:
            raise UartPortError("serial port is not open")
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise UartPortError(f"write to the module failed: {exc}") from exc

    def set_emissivity(self, emissivity: float) -> None:
        self.send(emissivity_command(emissivity))
        self.emissivity = emissivity

    def set_rate(self, hz: float, save: bool = True) -> None:
        """Module update rate 0.5..8 Hz; applies after `save` and a power cycle (module manual)."""
        self.send(rate_command(hz) + (SAVE_SETTINGS if save else b""))

    def set_baud(self, baud: int, save: bool = True) -> None:
        """Module baud 9600/115200/460800; applies after `save` and a power cycle, then reopen at that baud."""
        self.send(baud_command(baud) + (SAVE_SETTINGS if save else b""))

    def query_emissivity(self, timeout: float = 2.0) -> float:
        """Ask the module for its emissivity setting; frames that arrive meanwhile are kept."""
        before = len(self.sync.emissivity_replies)
        self.send(QUERY_EMISSIVITY)
        deadline = self._clock() + timeout
        while len(self.sync.emissivity_replies) == before:
            if self._clock() >= deadline:
                raise UartError(f"no emissivity reply within {timeout:g} s")
            self._pump()
        return self.sync.emissivity_replies[-1]

    def read_frame(self, timeout: float = 2.0) -> UartFrame:
        """The next complete frame; raises UartError after `timeout` seconds without one."""
        if self._serial is None:
            raise UartPortError("serial port is not open")
        now = self._clock()
        if self._last_read is not None and now - self._last_read > self.stale_after_s:
            self._drop_backlog(self._serial)
        deadline = now + timeout
        while not self._frames:
            if self._clock() >= deadline:
                raise UartError(f"no valid frame from the module within {timeout:g} s "
                                f"({self.sync.counters['bad_checksum']} bad checksums, "
                                f"{self.sync.counters['garbage_bytes']} garbage bytes so far)")
            self._pump()
        while len(self._frames) > 1:            # only the newest counts; older ones are late
            self._frames.popleft()
            self.late_discarded += 1
        frame = self._frames.popleft()
        self._last_read = self._clock()
        return frame

    def _pump(self) -> None:
        if self._serial is None:
            raise UartPortError("serial port is not open")
        try:
            data = self._serial.read(max(1, self._serial.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise UartPortError(f"read from the module failed: {exc}") from exc
        if data:
            self._frames.extend(self.sync.feed(data))

    def _drop_backlog(self, port: serial.Serial) -> None:
        """Throw away whatever queued up while nobody was reading: its age is unknown."""
        self.late_discarded += len(self._frames)
        self._frames.clear()
        try:
            port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise UartPortError(f"serial port failed: {exc}") from exc
        self.sync.reset()
