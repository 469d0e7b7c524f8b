"""LCUS-type USB/serial relay boards (CH340 + microcontroller, 1 to 8 channels).

The boards take four-byte commands at 9600 baud: ``A0 <channel> <state> <checksum>`` with
channel 1..8, state 0x01 = on (energised), 0x00 = off and checksum = the low byte of the sum of
the first three bytes (``A0 01 01 A2`` switches channel 1 on, ``A0 01 00 A1`` off). The boards do
not answer, so a write that reached the port is all we can confirm.
"""
from __future__ import annotations

from typing import Optional

import serial

from ..health import DeviceHealth, HealthState
from ..hints import serial_hint
from .base import Relay, RelayError, error_reason

START = 0xA0


def lcus_command(channel: int, on: bool) -> bytes:
    """The four-byte LCUS command switching `channel` (1..8) on or off."""
    if not 1 <= channel <= 8:
        raise ValueError(f"relay channel must be 1..8, got {channel}")
    state = 0x01 if on else 0x00
    return bytes([START, channel, state, (START + channel + state) & 0xFF])


class SerialRelay(Relay):
    def __init__(self, port: str, *, baud: int = 9600, channel: int = 1, write_timeout_s: float = 1.0) -> None:
        lcus_command(channel, False)  # validates the channel early
        self.port = port
        self.baud = baud
        self.channel = channel
        self.write_timeout_s = write_timeout_s
        self._serial: Optional[serial.Serial] = None
        self._in_use = False  # between open() and close(), even while the port is dropped after an error
        self.health = DeviceHealth(HealthState.failed, "not opened", {"switches": 0, "errors": 0})

    def describe(self) -> str:
        return f"serial relay {self.port} channel {self.channel}"

    def open(self) -> None:
        if self._serial is None:
            self._open_port()
        self._in_use = True
        self.set_unlocked(False)

    def set_unlocked(self, unlocked: bool) -> None:
        if self._serial is None:
            if not self._in_use:
                raise RelayError(f"{self.describe()} is not open")
            self._open_port()  # re-acquire the port after an unplug or a write error
        assert self._serial is not None
        try:
            self._serial.write(lcus_command(self.channel, unlocked))
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            self.health.counters["errors"] += 1
            self.health.state, self.health.detail = HealthState.failed, str(exc)
            self._drop_port()
            raise RelayError(f"cannot switch {self.describe()}: {error_reason(exc)}") from None
        self.health.counters["switches"] += 1
        self.health.state, self.health.detail = HealthState.ok, "unlocked" if unlocked else "locked"

    def _open_port(self) -> None:
        try:
            self._serial = serial.Serial(self.port, self.baud, timeout=0, write_timeout=self.write_timeout_s,
                                         exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            self.health.state, self.health.detail = HealthState.failed, str(exc)
            raise RelayError(f"cannot open {self.describe()}: {error_reason(exc)}{serial_hint(exc)}") from None

    def close(self) -> None:
        if not self._in_use:
            return
        try:
            self.set_unlocked(False)  # re-opens a port dropped after an error, to send the off command
        finally:
            self._in_use = False
            self._drop_port()
            self.health.detail = "closed"

    def _drop_port(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass
