"""A stand-in daemon for the process tests: holds the gate unlocked until something ends it.

    python gate_holder.py serial PORT | gpio LEVEL_LOG | mock STATE_FILE   [--end sigterm|crash|exit]
                          [--pulse S] [--lease S]

It unlocks the gate for a pulse (30 s unless --pulse), prints UNLOCKED, prints LOCKED whenever the
relay is released, and:
- sigterm (default): waits; SIGTERM cancels the main task, as the daemon does;
- crash: the pipeline raises an exception;
- exit: calls sys.exit() without stopping the controller (the atexit hook must lock).
With --lease (serial or mock) the controller is built from a configuration as the daemon builds it,
with the gate supervisor on and that lease, and the first line is "UNLOCKED <supervisor pid>".
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
from kiosk.access.gate import GateController
from kiosk.access.gate_supervisor import Lease
from kiosk.config import KioskConfig


def make_relay(kind: str, target: str) -> Relay:
    if kind == "serial":
        return SerialRelay(target)
    if kind == "gpio":
        chip = FakeGpioChip(log_path=Path(target))
        return GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines)
    return MockRelay(Path(target))


def supervised_config(kind: str, target: str, pulse_s: float, lease_s: float) -> KioskConfig:
    """[gate] for the same relay with the supervisor on (not GPIO: the fake chip lives in this process only)."""
    if kind == "serial":
        gate, state_dir = {"backend": "serial", "serial_port": target}, "."
    elif kind == "mock":
        gate, state_dir = {"backend": "mock"}, str(Path(target).parent)
    else:
        raise SystemExit("--lease: serial or mock only")
    return KioskConfig.model_validate({"device": {"state_dir": state_dir},
                                       "gate": {**gate, "pulse_s": pulse_s, "supervisor": True, "lease_s": lease_s}})


class Report:
    """The gate's change listener: prints UNLOCKED (with the supervisor's pid) and LOCKED as the relay
    switches. It runs after the controller told the supervisor, so a test that read LOCKED knows the
    supervisor was told too."""

    def __init__(self) -> None:
        self.lease: Optional[Lease] = None
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


async def daemon(gate: GateController, report: Report, end: str) -> None:
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    async with gate:
        gate.grant()
        await report.wait_unlocked()
        if end == "crash":
            await asyncio.sleep(0.05)
            raise RuntimeError("pipeline lost")
        await asyncio.Event().wait()


async def exits_without_stopping(gate: GateController, report: Report) -> None:
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
    parser.add_argument("--lease", type=float, default=None, help="build from a configuration, with a supervisor")
    args = parser.parse_args()
    report = Report()
    if args.lease is None:
        gate = GateController(make_relay(args.kind, args.target), pulse_s=args.pulse, on_change=report)
    else:
        gate = GateController.from_config(supervised_config(args.kind, args.target, args.pulse, args.lease),
                                          on_change=report)
        report.lease = gate.lease
    if args.end == "exit":
        asyncio.run(exits_without_stopping(gate, report))
    try:
        asyncio.run(daemon(gate, report, args.end))
    except asyncio.CancelledError:
        print("STOPPED", flush=True)
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
