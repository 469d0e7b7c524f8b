"""The gate supervisor: a separate process that locks the gate when the daemon dies or stalls while
the gate is unlocked, with or without systemd.

The daemon's relay thread (`GateController`) tells the supervisor the relay's state through a pipe,
one byte per message: UNLOCKED before it energises the relay and then every lease_s / RENEWALS while
the gate stays unlocked (the lease), LOCKED once the relay is released, CLOSED when it closed the
relay on its way out. The supervisor holds no device. It acts only while the gate is unlocked:
- no renewal for lease_s (SIGSTOP, a hung relay thread): it kills the daemon, because a stalled
  process still holds the GPIO line or the serial port, then locks the gate the way
  `kiosk gate lock` does;
- the pipe ends without CLOSED (kill -9, a crash of the interpreter): the daemon is gone or going;
  it makes sure, then locks.
A daemon that stalls or dies with the gate locked is left to systemd: the relay is released already.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from enum import Enum
from typing import Optional

from .. import logs
from ..config import KioskConfig
from .gate_timing import RETRY_LOCK_S

log = logging.getLogger("kiosk.gate.supervisor")

UNLOCKED = b"U"    # the relay is (being) energised; repeated as the lease renewal
LOCKED = b"L"      # the relay is released
CLOSED = b"Q"      # the daemon released and closed the relay: the supervisor ends
RENEWALS = 4       # renewals per lease, so one late renewal is not a stall
KILL_WAIT_S = 5.0  # how long a killed daemon may take to end (and free its device)
LOCK_FOR_S = 10.0  # how long a lock that fails (device still busy, unplugged) is retried


class Ending(Enum):
    """Why the supervisor stopped watching."""
    closed = "closed"    # the daemon closed the relay itself, or ended with it released
    stalled = "stalled"  # no renewal for lease_s while unlocked
    died = "died"        # the pipe ended while unlocked


# The daemon's side ------------------------------------------------------------------------------
class Lease:
    """Starts the supervisor and tells it the relay's state; used by the relay thread only."""

    def __init__(self, config: KioskConfig) -> None:
        self.lease_s = config.gate.lease_s
        self.renew_s = self.lease_s / RENEWALS
        # Only what building the relay needs (no secrets on the supervisor's command line).
        self._relay_config = json.dumps({"device": {"state_dir": str(config.state_dir)},
                                         "gate": config.gate.model_dump(mode="json")})
        self._log_format = config.device.log_format.value
        self._fd: Optional[int] = None
        self._process: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None

    def start(self) -> int:
        """Spawn the supervisor; returns the pipe it reads; raises OSError if it cannot be started."""
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "kiosk.access.gate_supervisor", "--fd", str(read_end), "--pid", str(os.getpid()),
                 "--lease", f"{self.lease_s:g}", "--log-format", self._log_format, "--relay", self._relay_config],
                pass_fds=(read_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=logs.original_stderr_fd())
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        # Never block the relay thread: a pipe that is full means the supervisor is not reading.
        os.set_blocking(write_end, False)
        self._fd = write_end
        log.info("gate supervisor started", extra={"fields": {"pid": self._process.pid, "lease_s": self.lease_s}})
        return write_end

    def unlocked(self) -> None:
        """Before energising the relay, and every renew_s while it stays energised."""
        self._send(UNLOCKED)

    def locked(self) -> None:
        self._send(LOCKED)

    def close(self, released: bool = True) -> None:
        """End the supervisor. Without `released` (the relay could not be released) the pipe just
        closes: a supervisor that last heard the gate unlocked kills this process and locks it itself."""
        if self._fd is None:
            return
        if released:
            try:
                os.write(self._fd, CLOSED)
            except OSError:       # gone, or not reading: nothing to start another one for
                pass
        os.close(self._fd)
        self._fd = None
        if self._process is not None:
            try:
                self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                log.warning("gate supervisor did not end", extra={"fields": {"pid": self._process.pid}})

    def _send(self, message: bytes) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, message)
        except BlockingIOError:
            pass
        except OSError as exc:   # the supervisor is gone (BrokenPipeError): start another one
            code = self._process.poll() if self._process is not None else None
            log.error("gate supervisor ended (exit %s: %s); starting a new one", code, exc)
            os.close(self._fd)
            self._fd = None
            try:
                os.write(self.start(), message)
            except OSError as again:
                log.error("cannot start the gate supervisor: %s; the gate runs unsupervised", again)


# The supervisor's side --------------------------------------------------------------------------
def watch(fd: int, lease_s: float, clock: Callable[[], float] = time.monotonic) -> Ending:
    """Follow the daemon's messages on `fd` until the supervisor has to act or may end."""
    unlocked, renewed = False, clock()
    while True:
        timeout = max(0.0, renewed + lease_s - clock()) if unlocked else None
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            if unlocked and clock() - renewed >= lease_s:
                return Ending.stalled
            continue
        data = os.read(fd, 4096)
        if not data:
            return Ending.died if unlocked else Ending.closed
        for byte in data:
            message = bytes([byte])
            if message == CLOSED:
                return Ending.closed
            unlocked = message == UNLOCKED
        if unlocked:
            renewed = clock()


def open_daemon(pid: int) -> Optional[int]:
    """A pidfd on the daemon (our parent), or None when it has ended already."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    if os.getppid() != pid:   # reparented: the daemon ended and `pid` may be someone else's now
        os.close(pidfd)
        return None
    return pidfd


def end_daemon(pidfd: Optional[int]) -> None:
    """SIGKILL the daemon (it works on a stopped process too) and wait until it has ended, which
    frees its GPIO line or serial port."""
    if pidfd is None:
        return
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        return
    ready, _, _ = select.select([pidfd], [], [], KILL_WAIT_S)
    if not ready:
        log.error("the daemon did not end within %g s of SIGKILL (stuck in the kernel?); locking anyway",
                  KILL_WAIT_S)


def lock(config: KioskConfig, clock: Callable[[], float] = time.monotonic) -> bool:
    """Release the relay like `kiosk gate lock`, retrying while the device is busy or missing."""
    from drivers.relay.base import RelayError

    from .gate import lock_gate

    give_up = clock() + LOCK_FOR_S
    while True:
        try:
            what = lock_gate(config)
        except RelayError as exc:
            if clock() >= give_up:
                log.critical("cannot lock the gate: %s", exc)
                return False
            time.sleep(RETRY_LOCK_S)
            continue
        log.warning("gate locked by the supervisor: %s", what)
        return True


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk.access.gate_supervisor", description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="read end of the daemon's pipe")
    parser.add_argument("--pid", type=int, required=True, help="the daemon (our parent)")
    parser.add_argument("--lease", type=float, required=True, help="seconds without renewal that are a stall")
    parser.add_argument("--log-format", default="text")
    parser.add_argument("--relay", required=True, help="[device] state_dir and [gate] as JSON")
    args = parser.parse_args(argv)
    # Ctrl-C, a hang-up or systemd's stop reach the whole group: stay until the daemon's pipe ends,
    # so a daemon that hangs on its way out is still caught.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    logs.setup("INFO", args.log_format)
    config = KioskConfig.model_validate(json.loads(args.relay))
    pidfd = open_daemon(args.pid)
    log.info("gate supervisor watching the daemon (pid %d), lease %g s", args.pid, args.lease)
    ending = watch(args.fd, args.lease)
    if ending == Ending.closed:
        return 0
    if ending == Ending.stalled:
        log.error("the daemon (pid %d) stalled with the gate unlocked: no lease renewal for %g s; killing it",
                  args.pid, args.lease)
    else:
        log.error("the daemon (pid %d) ended with the gate unlocked", args.pid)
    end_daemon(pidfd)
    return 0 if lock(config) else 1


if __name__ == "__main__":
    raise SystemExit(main())
