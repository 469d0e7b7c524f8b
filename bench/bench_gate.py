"""Gate benchmark: pulse-length accuracy through the real drivers, and the cost of a decision.

- GPIO relay through the fake chip (the driver code of a real line), pulse timed by the gate
  controller's worker thread; also with the event loop blocked during the pulse.
- LCUS serial relay over a real pseudo-terminal, timed by byte arrival on the far end.
- Tracker + policy per frame (a person walking up and standing), in microseconds.
The issue's bar: every pulse within 20 ms of the configured length.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import select
import statistics
import threading
import time
import tty
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

import numpy as np

from drivers.relay.fake_chip import FakeGpioChip
from drivers.relay.gpio import GpioRelay
from drivers.relay.mock import pulse_lengths
from drivers.relay.serial_board import SerialRelay, lcus_command
from kiosk.access.gate import GateController
from kiosk.access.tracker import Tracker
from kiosk.config import parse_config
from kiosk.recognition.observations import FaceSample, PersonInfo
from kiosk.types import FaceObservation, LivenessResult, MatchResult, TemperatureReading

BAR_S = 0.020


def _run_pulses(relay: Any, pulse_s: float, count: int, block_loop: bool) -> None:
    async def run() -> None:
        async with GateController(relay, pulse_s) as gate:
            for _ in range(count):
                gate.grant()
                if block_loop:
                    time.sleep(pulse_s + 0.1)     # the loop is stuck for the whole pulse
                else:
                    await asyncio.sleep(pulse_s + 0.1)

    asyncio.run(run())


def gpio_pulses(pulse_s: float, count: int, block_loop: bool = False) -> list[float]:
    chip = FakeGpioChip()
    _run_pulses(GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines), pulse_s, count, block_loop)
    return pulse_lengths([(when, bool(level)) for when, line, level in chip.history if line == 17])


def serial_pulses(pulse_s: float, count: int) -> list[float]:
    master, slave = os.openpty()
    tty.setraw(slave)
    arrivals: list[tuple[float, int]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            if select.select([master], [], [], 0.05)[0]:
                now = time.monotonic()
                arrivals.extend((now, byte) for byte in os.read(master, 256))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _run_pulses(SerialRelay(os.ttyname(slave)), pulse_s, count, block_loop=False)
        time.sleep(0.1)
    finally:
        stop.set()
        reader.join()
        os.close(master)
        os.close(slave)
    on = lcus_command(1, True)
    commands = [(arrivals[i + 3][0], bytes(b for _, b in arrivals[i:i + 4])) for i in range(0, len(arrivals) - 3, 4)]
    return pulse_lengths([(when, command == on) for when, command in commands])


def decision_cost(frames: int) -> float:
    """Mean microseconds per tracker.update() for a person standing in front of the kiosk."""
    cfg = parse_config({"thermal": {"backend": "mock"}, "device": {"timezone": "UTC"},
                        "recognition": {"cooldown_s": 5}})
    tracker = Tracker(cfg)
    person = PersonInfo("p1", "E1", "Ada Lovelace", "staff")
    at = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    sample = FaceSample(FaceObservation((200, 100, 360, 290), 0.9, np.zeros((6, 2), np.float32)),
                        MatchResult("p1", 0.3, 0.2, 0.5), person,
                        TemperatureReading(36.6, 34.1, 0.9, 0.2, 0.5), LivenessResult(True, 0.9, "warm skin"))
    started = time.perf_counter()
    verdicts = 0
    for i in range(frames):
        # Walk away every 10 s so the person is decided again (the policy runs, not just the cache).
        samples = [sample] if i % 150 < 120 else []
        verdicts += tracker.update(i / 15, at + timedelta(seconds=i / 15), samples).verdict is not None
    assert verdicts > 0
    return (time.perf_counter() - started) / frames * 1e6


def _summary(name: str, pulse_s: float, lengths: list[float]) -> dict[str, Any]:
    errors = [abs(length - pulse_s) * 1000 for length in lengths]
    return {"case": name, "pulse_s": pulse_s, "pulses": len(lengths),
            "mean_error_ms": round(statistics.fmean(errors), 2) if errors else None,
            "max_error_ms": round(max(errors), 2) if errors else None,
            "within_bar": bool(errors) and max(errors) <= BAR_S * 1000}


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_gate", description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="ignored")
    parser.add_argument("--pulses", type=int, default=20, help="pulses per case")
    parser.add_argument("--pulse-s", type=float, default=0.2, help="configured pulse length")
    args = parser.parse_args(argv)
    rows = [
        _summary("gpio (fake chip)", args.pulse_s, gpio_pulses(args.pulse_s, args.pulses)),
        _summary("gpio, event loop blocked", args.pulse_s, gpio_pulses(args.pulse_s, args.pulses, block_loop=True)),
        _summary("serial LCUS over pty", args.pulse_s, serial_pulses(args.pulse_s, args.pulses)),
    ]
    cost = decision_cost(9000)
    print(f"{'case':28} {'pulses':>6} {'mean err ms':>11} {'max err ms':>10}  bar {BAR_S * 1000:.0f} ms")
    for row in rows:
        print(f"{row['case']:28} {row['pulses']:>6} {row['mean_error_ms']:>11} {row['max_error_ms']:>10}  "
              f"{'ok' if row['within_bar'] else 'MISSED'}")
    print(f"tracker + policy: {cost:.1f} us per frame")
    return {"pulse": rows, "decision_us_per_frame": round(cost, 1), "bar_ms": BAR_S * 1000,
            "all_within_bar": all(row["within_bar"] for row in rows)}


if __name__ == "__main__":
    main()
