"""A stand-in daemon for the process tests: holds the gate unlocked until something ends it.

    python gate_holder.py serial PORT | gpio LEVEL_LOG | mock STATE_FILE   [--end sigterm|crash|exit]
                          [--pulse S] [--lease S]

It unlocks the gate for a pulse (30 s unless --pulse), prints UNLOCKED (with --lease: a gate
supervisor with that lease watches it, and the line is "UNLOCKED <supervisor pid>"), prints LOCKED
whenever the relay is released, and:
- sigterm (default): waits; SIGTERM cancels the main task, as the daemon does;
- crash: the pipeline raises an exception;
- exit: calls sys.exit() without stopping the controller (the atexit hook must lock).
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

from drivers.relay.base import Relay
from drivers.relay.fake_chip import FakeGpioChip
from drivers.relay.gpio import GpioRelay
from drivers.relay.mock import MockRelay
from drivers.relay.serial_board import SerialRelay
from kiosk.config import KioskConfig
from kiosk.gate import GateController
from kiosk.gate_supervisor import Lease


def make_relay(kind: str, target: str) -> Relay:
    if kind == "serial":
        return SerialRelay(target)
    if kind == "gpio":
        chip = FakeGpioChip(log_path=Path(target))
        return GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines)
    return MockRelay(Path(target))


def make_lease(kind: str, target: str, lease_s: float) -> Lease:
    """The supervisor locks the relay the holder uses (the fake GPIO chip lives in this process only)."""
    if kind == "serial":
        gate, state_dir = {"backend": "serial", "serial_port": target}, "."
    elif kind == "mock":
        gate, state_dir = {"backend": "mock"}, str(Path(target).parent)
    else:
        raise SystemExit("--lease: serial or mock only")
    return Lease(KioskConfig.model_validate({"device": {"state_dir": state_dir}, "gate": {**gate, "lease_s": lease_s}}))


class Report:
    """The gate's change listener: prints UNLOCKED (with the supervisor's pid) and LOCKED as the relay
    switches. It runs after the controller told the supervisor, so a test that read LOCKED knows the
    supervisor was told too."""

    def __init__(self, lease: Optional[Lease] = None) -> None:
        self.lease = lease
        self.unlocked = threading.Event()

    def __call__(self, unlocked: bool, at: float) -> None:
        if unlocked:
            supervisor = self.lease.pid if self.lease is not None else None
            print("UNLOCKED" if supervisor is None else f"UNLOCKED {supervisor}", flush=True)
            self.unlocked.set()
        else:
            print("LOCKED", flush=True)

    async def wait_unlocked(self) -> None:
        await asyncio.to_thread(self.unlocked.wait)


async def daemon(relay: Relay, end: str, pulse_s: float, lease: Optional[Lease]) -> None:
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    report = Report(lease)
    async with GateController(relay, pulse_s=pulse_s, lease=lease, on_change=report) as gate:
        gate.grant()
        await report.wait_unlocked()
        if end == "crash":
            await asyncio.sleep(0.05)
            raise RuntimeError("pipeline lost")
        await asyncio.Event().wait()


async def exits_without_stopping(relay: Relay) -> None:
    report = Report()
    gate = GateController(relay, pulse_s=30, on_change=report)
    await gate.start()
    gate.grant()
    await report.wait_unlocked()
    sys.exit(3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["serial", "gpio", "mock"])
    parser.add_argument("target")
    parser.add_argument("--end", choices=["sigterm", "crash", "exit"], default="sigterm")
    parser.add_argument("--pulse", type=float, default=30.0)
    parser.add_argument("--lease", type=float, default=None, help="run a gate supervisor with this lease")
    args = parser.parse_args()
    relay = make_relay(args.kind, args.target)
    lease = make_lease(args.kind, args.target, args.lease) if args.lease is not None else None
    if args.end == "exit":
        asyncio.run(exits_without_stopping(relay))
    try:
        asyncio.run(daemon(relay, args.end, args.pulse, lease))
    except asyncio.CancelledError:
        print("STOPPED", flush=True)
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
