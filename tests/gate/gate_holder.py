"""A stand-in daemon for the process tests: holds the gate unlocked until something ends it.

    python gate_holder.py serial PORT | gpio LEVEL_LOG | mock STATE_FILE   [--end sigterm|crash|exit]

It unlocks the gate for a 30 s pulse, prints UNLOCKED and then:
- sigterm (default): waits; SIGTERM cancels the main task, as the daemon does;
- crash: the pipeline raises an exception;
- exit: calls sys.exit() without stopping the controller (the atexit hook must lock).
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from drivers.relay.base import Relay
from drivers.relay.fake_chip import FakeGpioChip
from drivers.relay.gpio import GpioRelay
from drivers.relay.mock import MockRelay
from drivers.relay.serial_board import SerialRelay
from kiosk.gate import GateController


def make_relay(kind: str, target: str) -> Relay:
    if kind == "serial":
        return SerialRelay(target)
    if kind == "gpio":
        chip = FakeGpioChip(log_path=Path(target))
        return GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines)
    return MockRelay(Path(target))


async def wait_unlocked(gate: GateController) -> None:
    while not gate.unlocked:
        await asyncio.sleep(0.005)
    print("UNLOCKED", flush=True)


async def daemon(relay: Relay, end: str) -> None:
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    async with GateController(relay, pulse_s=30) as gate:
        gate.grant()
        await wait_unlocked(gate)
        if end == "crash":
            await asyncio.sleep(0.05)
            raise RuntimeError("pipeline lost")
        await asyncio.Event().wait()


async def exits_without_stopping(relay: Relay) -> None:
    gate = GateController(relay, pulse_s=30)
    await gate.start()
    gate.grant()
    await wait_unlocked(gate)
    sys.exit(3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["serial", "gpio", "mock"])
    parser.add_argument("target")
    parser.add_argument("--end", choices=["sigterm", "crash", "exit"], default="sigterm")
    args = parser.parse_args()
    relay = make_relay(args.kind, args.target)
    if args.end == "exit":
        asyncio.run(exits_without_stopping(relay))
    try:
        asyncio.run(daemon(relay, args.end))
    except asyncio.CancelledError:
        print("STOPPED", flush=True)
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
