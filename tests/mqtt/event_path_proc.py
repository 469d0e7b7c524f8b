"""The daemon's event path in a process of its own, for kill -9 and storage-failure tests: a real Store
(local event log), the EventWriter stage and the MqttService (outbox, reconciler, broker connection).

    python event_path_proc.py --state DIR --port PORT --count N [--rate R] [--outbox-max M]
                              [--crash-at STEP --crash-after K]

Events number 0..N-1 (`detail.n`) with stable ids, so an event fed again after a restart is the same
event (the store keeps the first copy). <state>/progress holds the highest n whose event is in the
local log; a restart continues after it. STEP names where the process SIGKILLs itself, on the K-th
time it gets there: `log_committed` (event in the log, not yet in the outbox), `outbox_committed`
(in the outbox, not yet published), `published` (handed to the socket, no PUBACK yet), `acked`
(PUBACK received, row not yet deleted), `deleted` (row deleted). Prints "fed" when all N are in the
local log; runs until SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqtt_support import kiosk_config, make_keys, read_progress, stable_id  # noqa: E402

from kiosk.mqtt import MqttService  # noqa: E402
from kiosk.mqtt.connection import Connection  # noqa: E402
from kiosk.mqtt.durable import DurableQueue  # noqa: E402
from kiosk.mqtt.outbox import Outbox  # noqa: E402
from kiosk.service.health import HealthMonitor  # noqa: E402
from kiosk.service.stages.event_writer import EventWriter  # noqa: E402
from kiosk.store import Store  # noqa: E402

STEPS = ("log_committed", "outbox_committed", "published", "acked", "deleted")




def crash_on(owner: Any, name: str, after: int, before: bool = False) -> None:
    """Replace owner.name with a wrapper that SIGKILLs this process on its `after`-th call."""
    original: Callable[..., Any] = getattr(owner, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if before and calls[0] >= after:
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if not before and calls[0] >= after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, wrapper)


def arm(step: str, after: int) -> None:
    if step == "log_committed":
        crash_on(Store, "record_event", after)
    elif step == "outbox_committed":
        crash_on(Outbox, "add", after)
    elif step == "published":
        crash_on(Connection, "publish", after)
    elif step == "acked":
        crash_on(DurableQueue, "ack", after, before=True)
    elif step == "deleted":
        crash_on(Outbox, "delete", after)
    else:
        raise SystemExit(f"unknown step {step!r} (one of {', '.join(STEPS)})")


def event(device: str, n: int) -> dict[str, Any]:
    return {"type": "attendance", "event_id": stable_id(device, n), "device_id": device,
            "device_time": datetime.now(UTC).isoformat(timespec="milliseconds"), "person": None,
            "temperature": None, "liveness": None, "mask": None, "decision": None, "attendance": None,
            "match": None, "detail": {"n": n}}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--device", default="kiosk-1")
    parser.add_argument("--rate", type=float, default=0.0, help="events per second (0: as fast as recorded)")
    parser.add_argument("--outbox-max", type=int, default=10_000)
    parser.add_argument("--crash-at", choices=STEPS)
    parser.add_argument("--crash-after", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not (args.state / "keys" / "signing.key").exists():
        make_keys(args.state)
    if args.crash_at:
        arm(args.crash_at, args.crash_after)
    config = kiosk_config(args.state, args.port, args.device, outbox_max_events=args.outbox_max, fleet_sync=False,
                          accept_commands=False)
    store_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(store_thread, lambda: Store(args.state / "kiosk.db", args.state / "keys",
                                                                   device_id=args.device))
    await loop.run_in_executor(store_thread, store.check_writable)    # as the daemon does at start
    health = HealthMonitor(30.0)
    writer = EventWriter(store, store_thread, health)
    service = MqttService(config, store, store_executor=store_thread)
    await service.start()
    writer.sink = service
    writing = asyncio.create_task(writer.run())
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    progress = args.state / "progress"
    fd = os.open(progress, os.O_WRONLY | os.O_CREAT, 0o644)
    n = read_progress(progress) + 1
    started, first = loop.time(), n
    while n < args.count and not stop.is_set():
        if args.rate:
            await asyncio.sleep(max(0.0, started + (n - first) / args.rate - loop.time()))
        if await writer.submit(event(args.device, n)):
            os.pwrite(fd, f"{n:>12}\n".encode(), 0)
            n += 1
    print("fed", flush=True)
    await stop.wait()
    await writer.drain(1.0)
    writing.cancel()
    await service.stop()
    await loop.run_in_executor(store_thread, store.close)


if __name__ == "__main__":
    asyncio.run(main())
