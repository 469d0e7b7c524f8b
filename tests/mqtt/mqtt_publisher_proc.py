"""A publishing kiosk for the durability and last-will tests: the daemon's MqttService, fed with events.

    python mqtt_publisher_proc.py --state DIR --port PORT --count N [--device ID] [--protocol 5]

Events number 0..N-1 (`detail.n`). After each `publish_event` returns (committed to the outbox),
the number is written to <state>/progress, so a restart after SIGKILL continues with the next one
(an event committed just before the kill may be fed twice: at-least-once, same as the daemon
re-reading its event log). Prints "ready" once started; runs until SIGTERM, then stops cleanly.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqtt_support import event_signer, kiosk_config, make_event, make_keys, read_progress, stable_id  # noqa: E402

from kiosk.mqtt import MqttService  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--device", default="kiosk-1")
    parser.add_argument("--protocol", default="5")
    parser.add_argument("--burst", type=int, default=20, help="events fed concurrently (group commit)")
    parser.add_argument("--rate", type=float, default=0.0, help="events per second (0 = as fast as possible)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    keys = args.state / "keys"
    if not (keys / "signing.key").exists():
        make_keys(args.state)
    signer = event_signer(keys)
    config = kiosk_config(args.state, args.port, args.device, protocol=args.protocol)
    service = MqttService(config)
    await service.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    progress = args.state / "progress"
    fd = os.open(progress, os.O_WRONLY | os.O_CREAT, 0o644)
    n = read_progress(progress) + 1
    loop = asyncio.get_running_loop()
    started, first = loop.time(), n
    while n < args.count and not stop.is_set():
        if args.rate:
            await asyncio.sleep(max(0.0, started + (n - first) / args.rate - loop.time()))
        batch = range(n, min(n + args.burst, args.count))
        events = [make_event(signer, args.device, i, event_id=stable_id(args.device, i)) for i in batch]
        await asyncio.gather(*(service.publish_event(event) for event in events))
        n = batch[-1] + 1
        os.pwrite(fd, f"{n - 1:>12}\n".encode(), 0)
    print("fed", flush=True)
    await stop.wait()
    await service.stop()


if __name__ == "__main__":
    asyncio.run(main())
