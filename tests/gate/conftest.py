"""Fixtures for the gate tests: the far end of a real pseudo-terminal (an LCUS relay board's side)."""
from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Iterator

import pytest

from drivers.relay.serial_board import lcus_command


class RelayBoardEnd:
    """Reads what the kiosk writes to the serial port, with the arrival time of every byte."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()    # our own slave fd keeps the pty up between openers
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.received: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                now = time.monotonic()
                try:
                    data = os.read(self.master, 256)
                except OSError:
                    continue
                self.received.extend((now, byte) for byte in data)

    def commands(self) -> list[tuple[float, bytes]]:
        """Complete four-byte commands with the arrival time of their last byte."""
        data = self.received[:]
        return [(data[i + 3][0], bytes(b for _, b in data[i:i + 4])) for i in range(0, len(data) - 3, 4)]

    def states(self, channel: int = 1) -> list[tuple[float, bool]]:
        known = {lcus_command(channel, True): True, lcus_command(channel, False): False}
        out = []
        for when, command in self.commands():
            assert command in known, f"unexpected bytes on the wire: {command.hex(' ')}"
            out.append((when, known[command]))
        return out

    def wait_for(self, count: int, timeout: float = 5.0, channel: int = 1) -> list[tuple[float, bool]]:
        """The switch states once `count` commands arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < 4 * count and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.states(channel)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def board() -> Iterator[RelayBoardEnd]:
    end = RelayBoardEnd()
    yield end
    end.close()
