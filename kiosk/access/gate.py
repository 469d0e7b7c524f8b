"""The gate controller: mechanism only (when to open is decided by kiosk.access.policy).

One worker thread owns the relay. It does the blocking relay calls and ends every pulse itself
(when its `PulseTimer`, kiosk/access/gate_timing.py, says so), so the event loop never blocks on the
relay and a stalled or dead loop cannot keep the gate open: every unlock is a bounded pulse.
The relay is released on every way out: `stop()` / leaving `async with`, an exception or
cancellation in the caller (SIGTERM handled by the daemon), interpreter exit (atexit). When
this process is killed or stalls with the gate unlocked, the gate supervisor (a `Lease` the worker
renews, kiosk/access/gate_supervisor.py) locks it; after SIGKILL the systemd unit's
`ExecStopPost=kiosk gate lock` releases it too, from a fresh process (`lock_gate`).
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import Optional

from drivers.health import DeviceHealth
from drivers.relay.base import Relay, RelayError

from ..config import KioskConfig
from ..hardware import MOCK_STATE_FILE, build_relay, mock_state_path
from .gate_supervisor import Lease
from .gate_timing import MAX_PULSE_S, RETRY_LOCK_S, PulseTimer

log = logging.getLogger("kiosk.gate")

# Called from the worker thread after every relay transition: (unlocked, monotonic time).
ChangeListener = Callable[[bool, float], None]


class GateController:
    """Unlocks the gate for `pulse_s` on `grant()`; a grant while unlocked extends the pulse.

    When to switch is decided by a `PulseTimer` (kiosk/access/gate_timing.py); the worker only switches
    the relay when the timer says so and waits on a condition until the next change is due. With a
    `lease` the worker also tells the gate supervisor every switch and, while unlocked, that it is alive.
    """

    def __init__(self, relay: Relay, pulse_s: float, *, clock: Callable[[], float] = time.monotonic,
                 on_change: Optional[ChangeListener] = None, lease: Optional[Lease] = None) -> None:
        if not 0 < pulse_s <= MAX_PULSE_S:
            raise ValueError(f"pulse_s must be more than 0 and at most {MAX_PULSE_S:g} s")
        self.relay = relay
        self.pulse_s = pulse_s
        self.clock = clock
        self.on_change = on_change
        self.lease = lease
        self._cond = threading.Condition()       # guards _timer and _stopping
        self._timer = PulseTimer()
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._started = threading.Event()
        self._start_error: Optional[BaseException] = None

    @classmethod
    def from_config(cls, config: KioskConfig, *, on_change: Optional[ChangeListener] = None) -> GateController:
        """The controller for [gate] (relay not opened and supervisor not started until start())."""
        lease = Lease(config) if config.gate.supervisor else None
        return cls(build_relay(config), config.gate.pulse_s, on_change=on_change, lease=lease)

    # lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the supervisor and open the relay (locked) in the worker thread; raises RelayError
        or OSError if it cannot."""
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
            self._timer.grant(self.clock(), pulse_s if pulse_s is not None else self.pulse_s)
            self._cond.notify_all()

    def lock(self) -> None:
        """Lock now, ending any pulse."""
        with self._cond:
            self._timer.lock(self.clock())
            self._cond.notify_all()

    # state -----------------------------------------------------------------------------------
    @property
    def unlocked(self) -> bool:
        return self._timer.unlocked

    @property
    def last_locked_at(self) -> Optional[float]:
        """Clock time of the last unlocked-to-locked transition (for door-forced detection)."""
        return self._timer.locked_at

    @property
    def health(self) -> DeviceHealth:
        return self.relay.health

    # worker ----------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.lease is not None:
                self.lease.start()
            self.relay.open()
        except BaseException as exc:  # reported to start()
            if self.lease is not None:
                self.lease.close()
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        log.info("gate ready: %s, locked", _describe(self.relay))
        try:
            while (unlocked := self._next_switch()) is not None:
                self._switch(unlocked)
            if self._timer.unlocked:
                self._switch(False)            # stopping: release before closing
        finally:
            self._close_relay()

    def _next_switch(self) -> Optional[bool]:
        """Block until the timer says the relay should switch; return to which state (None: stopping).
        While unlocked, wake every lease.renew_s to renew the lease (outside the lock: commands never wait)."""
        renew = False
        while True:
            if renew and self.lease is not None:
                self.lease.unlocked()              # this thread is alive and will end the pulse
            with self._cond:
                if self._stopping:
                    return None
                now = self.clock()
                change = self._timer.next_change(now)
                if change is not None and change.at <= now:
                    self._timer.switching(change.unlocked)
                    return change.unlocked
                wait = None if change is None else change.at - now
                renew = self.lease is not None and self._timer.unlocked
                if self.lease is not None and renew:
                    wait = self.lease.renew_s if wait is None else min(wait, self.lease.renew_s)
                self._cond.wait(wait)

    def _switch(self, unlocked: bool) -> None:
        if unlocked and self.lease is not None:
            self.lease.unlocked()                  # before the relay can be energised
        started = self.clock()
        try:
            self.relay.set_unlocked(unlocked)
        except RelayError as exc:
            log.error("gate relay: %s", exc)
            with self._cond:
                self._timer.failed(self.clock(), unlocked)
            if unlocked and self.lease is not None:
                self.lease.locked()                # the unlock did not happen (a release is retried)
            return
        with self._cond:
            self._timer.switched(started, unlocked)
        if not unlocked and self.lease is not None:
            self.lease.locked()
        log.info("gate %s", "unlocked" if unlocked else "locked")
        self._notify(unlocked, started)

    def _close_relay(self) -> None:
        released = False
        for attempt in range(3):
            try:
                self.relay.close()
                released = True
                break
            except Exception as exc:  # keep trying to lock whatever the driver raised
                log.error("gate relay close (attempt %d): %s", attempt + 1, exc)
                time.sleep(RETRY_LOCK_S)
        if self.lease is not None:
            self.lease.close(released)  # not released while unlocked: the supervisor kills us and locks
        closed_at = self.clock()
        with self._cond:
            was_unlocked = self._timer.unlocked
            if was_unlocked:
                self._timer.switched(closed_at, False)
        if was_unlocked:
            self._notify(False, closed_at)

    def _notify(self, unlocked: bool, at: float) -> None:
        if self.on_change is not None:
            try:
                self.on_change(unlocked, at)
            except Exception:
                log.exception("gate change listener failed")


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


__all__ = ["MOCK_STATE_FILE", "GateController", "build_relay", "lock_gate", "mock_state_path"]
