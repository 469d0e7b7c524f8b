"""MQTT flood: unauthenticated commands at network speed while the daemon records events at a steady pace.

The daemon's own wiring (kiosk/service/services.py, kiosk/service/daemon.py): one store thread shared by the event writer
(the EventWriter stage: sign, local event log, durable outbox) and the MQTT service's audit
callback (audit_to_store). A paho client in another process (bench.flood_client) publishes
unsigned `open_gate` commands evenly over the flood (QoS 1, a local mosquitto); meanwhile events
enter the writer's queue at a steady rate. Reported: the logging latency (queued -> committed to
the local log and the outbox) of the events queued between the first and the last refusal,
p50/p95/max; events recorded, commands refused and answered, audit records added (by outcome).
Target (issue 14): 5,000 in 10 s, every event under 100 ms, the ledger grows by summaries only.

    python -m bench --only bench_flood      (or: python -m bench.bench_flood --commands 5000 --seconds 10)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .bench_mqtt import MOSQUITTO, Broker

DEVICE = "bench-flood"


class FloodRig:
    """The daemon's event writer and the MQTT service on one store thread, as the daemon wires them."""

    def __init__(self, config: Any, store: Any) -> None:
        from kiosk.mqtt import MqttService, audit_to_store
        from kiosk.service.health import HealthMonitor
        from kiosk.service.stages.event_writer import EventWriter

        self.store_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
        self.writer = EventWriter(store, self.store_thread, HealthMonitor(30.0))
        self.service = MqttService(config, store, audit=audit_to_store(store), store_executor=self.store_thread)
        self.writer.sink = self.service
        self.device_id = config.device.id
        self.queued: dict[str, float] = {}
        self.logged: dict[str, float] = {}
        self.in_log: dict[str, tuple[float, float]] = {}   # the store thread's commit: (start, end)
        record = store.record_event

        def timed_record(event: dict[str, Any], match: Any = None) -> dict[str, Any]:
            started = time.perf_counter()
            signed = record(event, match)
            self.in_log[event["event_id"]] = (started, time.perf_counter())
            return signed
        store.record_event = timed_record
        self._writer: asyncio.Task[None] | None = None

    async def start(self, guard_s: float = 10.0) -> None:
        await self.service.start()
        publish = self.service.publish_event

        async def timed(event: dict[str, Any]) -> bool:   # the writer's last step: the event is logged
            held = await publish(event)
            self.logged[event["event_id"]] = time.perf_counter()
            return held
        self.service.publish_event = timed  # type: ignore[method-assign]
        self._writer = asyncio.create_task(self.writer.run(), name="events")
        deadline = time.monotonic() + guard_s
        while not self.service.connected:
            if time.monotonic() > deadline:
                raise RuntimeError("the MQTT service did not connect")
            await asyncio.sleep(0.01)

    def put(self, number: int) -> str:
        event = new_event(number, self.device_id)
        self.queued[event["event_id"]] = time.perf_counter()
        self.writer.submit(event)
        return event["event_id"]

    async def stop(self, guard_s: float = 60.0) -> None:
        """Once every queued event is logged (the writer's queue joined, or the guard ran out): stop the writer
        and the service."""
        await self.writer.drain(guard_s)
        assert self._writer is not None
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        await self.service.stop()
        self.store_thread.shutdown(wait=True)

    def latencies_ms(self, events: set[str]) -> list[float]:
        return sorted((self.logged[k] - self.queued[k]) * 1000 for k in events if k in self.logged)

    def slowest(self, events: set[str]) -> dict[str, float]:
        """Where the slowest event's time went: waiting for the store thread, the log commit, the outbox."""
        key = max((k for k in events if k in self.logged and k in self.in_log),
                  key=lambda k: self.logged[k] - self.queued[k])
        (begin, end), queued, logged = self.in_log[key], self.queued[key], self.logged[key]
        return {"wait_ms": round((begin - queued) * 1000, 1), "log_commit_ms": round((end - begin) * 1000, 1),
                "outbox_ms": round((logged - end) * 1000, 1)}


def new_event(number: int, device_id: str) -> dict[str, Any]:
    """An unsigned attendance event, as the decision stage hands it to the writer (which signs it)."""
    return {"type": "attendance", "event_id": uuid.uuid4().hex, "device_id": device_id,
            "device_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "person": {"person_id": uuid.uuid4().hex, "employee_no": f"E{number:05d}", "name": f"Person {number}",
                       "role": "staff"},
            "temperature": {"body_c": 36.6, "skin_c": 35.2, "quality": 0.93, "fever": False},
            "liveness": {"live": True, "score": 0.97, "reason": "warm skin"}, "mask": {"score": 0.03, "masked": False},
            "decision": {"outcome": "granted", "reasons": ["recognised", "temperature normal"]},
            "attendance": {"direction": "in"}, "match": {"distance": 0.31, "margin": 0.2}, "detail": {"n": number}}


async def flood(port: int, device: str, count: int, seconds: float, first: Path | None = None) -> float:
    """Run bench.flood_client in its own process; the seconds until all its commands were acked."""
    args = [str(port), device, str(count), str(seconds), *([str(first)] if first else [])]
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.flood_client", *args,
                                                   stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.flood_client exited with {process.returncode}")
    return float(out.decode().strip())


def config_for(state: Path, port: int) -> Any:
    from kiosk.config import parse_config

    return parse_config({"device": {"id": DEVICE, "state_dir": str(state)},
                         "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port, "health_interval_s": 3600,
                                  "allow_insecure_commands": True}})   # a plain local broker, no login


async def run(state: Path, port: int, commands: int, seconds: float, event_rate: float) -> dict[str, Any]:
    from kiosk.store.keys import init_keys
    from kiosk.store.store import Store

    config = config_for(state, port)
    init_keys(config.keys_dir)
    store = Store.open(config)
    try:
        first_seq = store.audit_head()[0]
        rig = FloodRig(config, store)
        await rig.start()
        processor = rig.service.processor
        assert processor is not None
        flooding = asyncio.create_task(flood(port, DEVICE, commands, seconds))
        during: set[str] = set()          # events queued after the first refusal and before the last one
        number = 0
        started = time.perf_counter()
        while not flooding.done() or time.perf_counter() - started < seconds + 1.0:
            event_id = rig.put(number)
            if 0 < processor.refused < commands or commands == 0:   # 0: a baseline without a flood
                during.add(event_id)
            number += 1
            await asyncio.sleep(max(0.0, started + number / event_rate - time.perf_counter()))
        flood_s = await flooding
        deadline = time.monotonic() + 120
        while processor.refused < commands and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        counted = processor.refused
        await rig.stop()
        added = [r for r in store.audit_records() if r["seq"] > first_seq]
        summaries = [json.loads(r["detail"]) for r in added if r["outcome"] == "refused_summary"]
        latencies = rig.latencies_ms(during)
        return {
            "commands": commands, "flood_s": round(flood_s, 2), "refused_counted": counted,
            "answered": sum(s["answered"] for s in summaries),
            "busy": sum(c["count"] for s in summaries for c in s["counts"] if c["code"] == "busy"),
            "events_queued": len(rig.queued), "events_logged": len(rig.logged),
            "events_in_store": len(store.events(limit=100_000)), "events_during_flood": len(latencies),
            "event_ms_p50": round(statistics.median(latencies), 1),
            "event_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "event_ms_max": round(latencies[-1], 1), "slowest_event": rig.slowest(during),
            "audit_added": len(added), "audit_by_outcome": dict(Counter(str(r["outcome"]) for r in added)),
            "summaries_refused": sum(s["refused"] for s in summaries),
        }
    finally:
        store.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_flood", description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, help="ignored (the runner passes it to every benchmark)")
    parser.add_argument("--commands", type=int, default=5000, help="unsigned commands in the flood")
    parser.add_argument("--seconds", type=float, default=10.0, help="spread evenly over this many seconds")
    parser.add_argument("--event-rate", type=float, default=20.0, help="events per second into the writer")
    args = parser.parse_args(argv)
    if not Path(MOSQUITTO).exists():
        print(f"bench_flood: {MOSQUITTO} not found (apt install mosquitto); skipped")
        return {"skipped": "mosquitto not installed"}
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
        broker = Broker(Path(tmp))
        try:
            result = asyncio.run(run(Path(tmp) / "state", broker.port, args.commands, args.seconds, args.event_rate))
        finally:
            broker.stop()
    for key, value in result.items():
        print(f"{key:>20}  {value}")
    return result


if __name__ == "__main__":
    main()
