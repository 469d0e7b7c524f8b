"""A device read loop in its own thread, handing results to the event loop.

Drivers block (V4L2, I2C, serial); each device gets a dedicated thread so that a slow bus never
occupies the executor the pipeline uses for inference.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("kiosk.reader")


class DeviceReader(Generic[T], threading.Thread):
    """Calls `read()` until stopped and passes each result to `deliver` on the event loop.

    An exception from `read()` is counted, reported through `on_error` (on the loop) and
    retried after a short pause that grows up to `max_backoff_s`; the thread never dies of it.
    """

    def __init__(self, name: str, read: Callable[[], T], deliver: Callable[[T], None],
                 loop: asyncio.AbstractEventLoop, on_error: Callable[[Exception], None] | None = None,
                 max_backoff_s: float = 2.0) -> None:
        super().__init__(name=f"reader-{name}", daemon=True)
        self._read, self._deliver, self._loop = read, deliver, loop
        self._on_error = on_error
        self._max_backoff_s = max_backoff_s
        self._stop_event = threading.Event()
        self.errors = 0
        self.reads = 0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        backoff = 0.05
        while not self._stop_event.is_set():
            try:
                item = self._read()
            except Exception as exc:  # a driver error must not end the reader
                self.errors += 1
                if self._on_error is not None:
                    self._call_on_loop(self._on_error, exc)
                self._stop_event.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            backoff = 0.05
            self.reads += 1
            self._call_on_loop(self._deliver, item)

    def _call_on_loop(self, fn: Callable, arg: object) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, arg)
        except RuntimeError:  # loop closed during shutdown
            self._stop_event.set()


def wait_stopped(readers: list[DeviceReader], timeout_s: float) -> list[str]:
    """Join reader threads; return the names of any still running after `timeout_s` in total."""
    deadline = time.monotonic() + timeout_s
    for reader in readers:
        reader.stop()
    for reader in readers:
        reader.join(max(0.0, deadline - time.monotonic()))
    return [r.name for r in readers if r.is_alive()]
