"""Is the system clock synchronised? A Raspberry Pi has no real-time clock: until NTP has set it,
events and attendance carry whatever time the board booted with.

Two sources, in order:
- the kernel's NTP state (adjtimex in read-only mode): TIME_ERROR or the STA_UNSYNC flag mean
  nobody has synchronised the clock; chrony, ntpd and systemd-timesyncd all clear it;
- systemd-timesyncd's marker file, for sandboxes where adjtimex is filtered (the unit's
  ProtectClock=yes denies it).
Neither answers -> unknown.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

log = logging.getLogger("kiosk.daemon")

TIMESYNCD_MARKER = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5            # adjtimex return value: clock not synchronised
STA_UNSYNC = 0x0040       # timex.status flag
_TIMEX_SIZE = 208         # sizeof(struct timex) on 64-bit Linux (32-bit: 128); a larger buffer is harmless
_STATUS_OFFSET = {8: 40, 4: 20}[ctypes.sizeof(ctypes.c_long)]   # after modes (+pad) and four longs


@dataclass(frozen=True)
class ClockState:
    synchronised: Optional[bool]     # None: cannot tell
    source: str

    def as_dict(self) -> dict[str, object]:
        return {"synchronised": self.synchronised, "source": self.source}


def kernel_state() -> Optional[bool]:
    """The kernel's view via adjtimex(modes=0); None when the call is unavailable or denied."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):
        return None
    buffer = ctypes.create_string_buffer(_TIMEX_SIZE * 2)     # modes = 0: read only
    result = adjtimex(buffer)
    if result < 0:
        return None
    status = int.from_bytes(buffer.raw[_STATUS_OFFSET:_STATUS_OFFSET + 4], sys.byteorder, signed=True)
    return result != TIME_ERROR and not status & STA_UNSYNC


def clock_state(marker: Path = TIMESYNCD_MARKER) -> ClockState:
    kernel = kernel_state()
    if kernel is not None:
        return ClockState(kernel, "kernel")
    if marker.exists():
        return ClockState(True, "systemd-timesyncd")
    return ClockState(None, "unknown")


def describe(state: ClockState) -> str:
    if state.synchronised:
        return f"synchronised ({state.source})"
    if state.synchronised is None:
        return "cannot tell whether the clock is synchronised (no adjtimex, no timesyncd marker)"
    return ("NOT synchronised: event and attendance times may be wrong; enable NTP "
            "(`timedatectl set-ntp true`) and check the network")


class Alarms(Protocol):
    alarms: dict[str, str]

    def raise_alarm(self, name: str, detail: str, *, warning: bool = False) -> None: ...

    def clear_alarm(self, name: str) -> None: ...


class ClockWatch:
    """The clock's state as last checked, for the daemon: alarm `clock` (a warning) while the kernel says nobody
    has synchronised the clock (events carry its time, and say so while it is not synchronised)."""

    def __init__(self, alarms: Alarms) -> None:
        self.alarms = alarms
        self.state = ClockState(None, "not checked yet")

    @property
    def synchronised(self) -> Optional[bool]:
        return self.state.synchronised

    def check(self) -> ClockState:
        state = self.state = clock_state()
        if state.synchronised is False:
            if "clock" not in self.alarms.alarms:
                log.warning("clock not synchronised", extra={"fields": {"detail": describe(state)}})
            self.alarms.raise_alarm("clock", describe(state), warning=True)
        else:
            self.alarms.clear_alarm("clock")
        return state
