"""The gate controller: mechanism only (when to open is decided by kiosk.policy).

One worker thread owns the relay. It does the blocking relay calls and keeps the pulse timer
itself, so the event loop never blocks on the relay and a stalled or dead loop cannot keep the
gate open: every unlock is a bounded pulse that the worker ends on time. The relay is released
on every way out: `stop()` / leaving `async with`, an exception or cancellation in the caller
(SIGTERM handled by the daemon), interpreter exit (atexit). After SIGKILL the systemd unit's
`ExecStopPost=kiosk gate lock` releases it from a fresh process (`lock_gate`).
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from drivers.health import DeviceHealth
from drivers.relay.base import Relay, RelayError

from .config import KioskConfig
from .config.gate import RelayBackend

log = logging.getLogger("kiosk.gate")

RETRY_LOCK_S = 0.5  # how often a failed release is retried
MAX_PULSE_S = 60.0  # no grant keeps the gate open longer (gate.pulse_s is limited to this too)
MOCK_STATE_FILE = "relay-mock.json"

# Called from the worker thread after every relay transition: (unlocked, monotonic time).
ChangeListener = Callable[[bool, float], None]


class GateController:
    """Unlocks the gate for `pulse_s` on `grant()`; a grant while unlocked extends the pulse."""

    def __init__(self, relay: Relay, pulse_s: float, *, clock: Callable[[], float] = time.monotonic,
                 on_change: Optional[ChangeListener] = None) -> None:
        if not 0 < pulse_s <= MAX_PULSE_S:
            raise ValueError(f"pulse_s must be more than 0 and at most {MAX_PULSE_S:g} s")
        self.relay = relay
        self.pulse_s = pulse_s
        self.clock = clock
        self.on_change = on_change
        self._cond = threading.Condition()
        self._pending: Optional[float] = None      # pulse length asked for, not yet applied
        self._starting: Optional[float] = None     # pulse length of the unlock being switched now
        self._deadline: Optional[float] = None     # when the current pulse ends
        self._unlocked = False                     # last state the relay reported applied
        self._stopping = False
        self._last_locked_at: Optional[float] = None
        self._thread: Optional[threading.Thread] = None
        self._started = threading.Event()
        self._start_error: Optional[BaseException] = None

    @classmethod
    def from_config(cls, config: KioskConfig, *, on_change: Optional[ChangeListener] = None) -> GateController:
        """The controller for [gate] (relay not opened until start())."""
        return cls(build_relay(config), config.gate.pulse_s, on_change=on_change)

    # lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the relay (locked) in the worker thread; raises RelayError if it cannot."""
        self._launch()
        await asyncio.get_running_loop().run_in_executor(None, self._wait_started)

    def start_sync(self) -> None:
        """`start()` for code without an event loop (the CLI)."""
        self._launch()
        self._wait_started()

    def _launch(self) -> None:
        if self._thread is not None:
            raise RuntimeError("gate controller already started")
        self._thread = threading.Thread(target=self._run, name="gate-relay", daemon=True)
        self._thread.start()
        atexit.register(self.stop_sync)

    def _wait_started(self) -> None:
        self._started.wait()
        if self._start_error is not None:
            atexit.unregister(self.stop_sync)
            raise self._start_error

    async def stop(self) -> None:
        """Lock now, close the relay and end the worker."""
        await asyncio.get_running_loop().run_in_executor(None, self.stop_sync)

    def stop_sync(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        atexit.unregister(self.stop_sync)

    async def __aenter__(self) -> GateController:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Lock at once, even if we are here because of a cancellation (SIGTERM) or an exception;
        # shielded so a second cancellation cannot skip the release.
        self.lock()
        await asyncio.shield(self.stop())

    # commands (thread-safe, never block) -----------------------------------------------------
    def grant(self, pulse_s: Optional[float] = None) -> None:
        """Unlock for `pulse_s` (default: the configured pulse) from when the relay switches."""
        with self._cond:
            if self._stopping:
                return
            pulse = min(MAX_PULSE_S, pulse_s if pulse_s is not None else self.pulse_s)
            self._pending = max(self._pending or 0.0, pulse)
            self._cond.notify_all()

    def lock(self) -> None:
        """Lock now, ending any pulse."""
        with self._cond:
            self._pending = None
            self._starting = None
            self._deadline = None
            self._cond.notify_all()

    # state -----------------------------------------------------------------------------------
    @property
    def unlocked(self) -> bool:
        return self._unlocked

    @property
    def last_locked_at(self) -> Optional[float]:
        """Clock time of the last unlocked-to-locked transition (for door-forced detection)."""
        return self._last_locked_at

    @property
    def health(self) -> DeviceHealth:
        return self.relay.health

    # worker ----------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.relay.open()
        except BaseException as exc:  # reported to start()
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        log.info("gate ready: %s, locked", _describe(self.relay))
        try:
            while True:
                want, stopping = self._next_state()
                self._apply(want)
                if stopping:
                    return
        finally:
            self._close_relay()

    def _next_state(self) -> tuple[bool, bool]:
        """Block until the relay should change (or stop); return (want unlocked, stopping)."""
        with self._cond:
            while True:
                now = self.clock()
                if self._stopping:
                    return False, True
                if self._pending is not None:
                    if not self._unlocked:
                        self._starting, self._pending = self._pending, None
                        return True, False     # the deadline is set once the relay has switched
                    self._deadline = max(self._deadline or now, now + self._pending)
                    self._pending = None
                want = self._deadline is not None and now < self._deadline
                if want != self._unlocked:
                    return want, False
                self._cond.wait(self._deadline - now if want and self._deadline is not None else None)

    def _apply(self, unlocked: bool) -> None:
        if unlocked == self._unlocked:
            return
        started = self.clock()
        try:
            self.relay.set_unlocked(unlocked)
        except RelayError as exc:
            log.error("gate relay: %s", exc)
            with self._cond:
                if unlocked:
                    self._starting = None      # an unlock is not retried; the person is told to try again
                else:
                    self._cond.wait(RETRY_LOCK_S)  # a release is retried until it works
            return
        with self._cond:
            self._unlocked = unlocked
            if unlocked:
                # Time the pulse from the moment the command went out, so the release (sent the same
                # way) comes exactly pulse_s later. A lock() during the switch left _starting None.
                self._deadline = started + (self._starting or 0.0)
                self._starting = None
            else:
                self._deadline = None
                self._last_locked_at = started
        log.info("gate %s", "unlocked" if unlocked else "locked")
        if self.on_change is not None:
            try:
                self.on_change(unlocked, started)
            except Exception:
                log.exception("gate change listener failed")

    def _close_relay(self) -> None:
        for attempt in range(3):
            try:
                self.relay.close()
                break
            except Exception as exc:  # keep trying to lock whatever the driver raised
                log.error("gate relay close (attempt %d): %s", attempt + 1, exc)
                time.sleep(RETRY_LOCK_S)
        was_unlocked, self._unlocked = self._unlocked, False
        if was_unlocked and self.on_change is not None:
            try:
                self.on_change(False, self.clock())
            except Exception:
                log.exception("gate change listener failed")


# Building relays from the configuration -------------------------------------------------------
def mock_state_path(config: KioskConfig) -> Path:
    return config.state_dir / MOCK_STATE_FILE


def build_relay(config: KioskConfig, *, request_lines: Optional[Callable] = None) -> Relay:
    """The relay named by [gate] (not opened). `request_lines` replaces `gpiod.request_lines` in tests."""
    gate = config.gate
    if gate.backend == RelayBackend.gpio:
        from drivers.relay.gpio import GpioRelay

        return GpioRelay(gate.gpio_chip, gate.gpio_line, active_low=gate.active_low, request_lines=request_lines)
    if gate.backend == RelayBackend.serial:
        from drivers.relay.serial_board import SerialRelay

        return SerialRelay(gate.serial_port, baud=gate.serial_baud, channel=gate.relay_channel)
    from drivers.relay.mock import MockRelay

    return MockRelay(mock_state_path(config))


def lock_gate(config: KioskConfig, *, request_lines: Optional[Callable] = None) -> str:
    """Release the relay from a fresh process (systemd ExecStopPost, even after SIGKILL).

    GPIO: request the line as an output driven inactive, then release it (the level stays).
    Serial: send the channel's off command. Mock: write 'locked' into its state file.
    Returns what was locked; raises RelayError with a one-line reason.
    """
    relay = build_relay(config, request_lines=request_lines)
    relay.open()    # every driver leaves the relay released when opened
    relay.close()
    return _describe(relay)


def _describe(relay: Relay) -> str:
    describe = getattr(relay, "describe", None)
    return describe() if callable(describe) else type(relay).__name__


__all__ = ["GateController", "build_relay", "lock_gate", "mock_state_path"]
