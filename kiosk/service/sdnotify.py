"""systemd notify protocol (sd_notify): READY, WATCHDOG, RELOADING, STOPPING, STATUS over $NOTIFY_SOCKET.

A no-op when the daemon was not started by systemd (no NOTIFY_SOCKET).
"""
from __future__ import annotations

import os
import socket
import time
from typing import Optional


class Notifier:
    def __init__(self, address: Optional[str] = None) -> None:
        self._address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._socket: Optional[socket.socket] = None
        if self._address:
            if self._address.startswith("@"):  # abstract namespace
                self._address = "\0" + self._address[1:]
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def watchdog_interval(self) -> Optional[float]:
        """Half the watchdog timeout systemd asked for (WATCHDOG_USEC), or None without a watchdog."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 1e6 / 2

    def send(self, *fields: str) -> None:
        if self._socket is None or not self._address:
            return
        try:
            self._socket.sendto("\n".join(fields).encode(), self._address)
        except OSError:
            pass  # systemd gone (shutdown) or socket not writable: nothing useful to do

    def ready(self, status: str = "") -> None:
        self.send("READY=1", f"STATUS={status}") if status else self.send("READY=1")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def reloading(self) -> None:
        """The configuration is being reloaded; READY=1 follows when the daemon decides again."""
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
