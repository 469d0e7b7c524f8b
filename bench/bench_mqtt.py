"""MQTT: durable events per second to a local mosquitto with QoS 1, against a bare paho QoS 1 loop.

Measured in one run, same broker, same payload (a signed attendance event, ~0.9 KB), same window of
unacknowledged messages (mqtt.inflight_max):
  bare     paho publish() in a loop on its own network thread, until every PUBACK arrived (no disk)
  burst    MqttService.publish_event for a burst of events submitted together: each one committed to
           the SQLite outbox (WAL, synchronous=FULL, group commit) before it is sent, deleted after its
           PUBACK; the clock stops when the outbox is empty
  single   one event at a time, each awaited until committed (one fsync per event): the kiosk's real
           pace, reported with its commit latency
Target: burst >= 50% of bare.

    python -m bench --only bench_mqtt            (or: python -m bench.bench_mqtt --events 20000)
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MOSQUITTO = "/usr/sbin/mosquitto"


class Broker:
    """A throw-away mosquitto on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
                        "max_queued_messages 0\nset_tcp_nodelay true\n")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for _ in range(250):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def signed_events(keys_dir: Path, device: str, count: int) -> list[dict[str, Any]]:
    from kiosk.store.keys import init_keys, load_signing_key
    from kiosk.store.signing import EventSigner

    init_keys(keys_dir)
    signer = EventSigner(load_signing_key(keys_dir))
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return [signer.sign({
        "type": "attendance", "event_id": uuid.uuid4().hex, "device_id": device, "device_time": now,
        "person": {"person_id": uuid.uuid4().hex, "employee_no": f"E{i:05d}", "name": f"Person {i}", "role": "staff"},
        "temperature": {"body_c": 36.6, "skin_c": 35.2, "quality": 0.93, "fever": False},
        "liveness": {"live": True, "score": 0.97, "reason": "warm skin"}, "mask": {"score": 0.03, "masked": False},
        "decision": {"outcome": "granted", "reasons": ["recognised", "temperature normal"]},
        "attendance": {"direction": "in"}, "match": {"distance": 0.31, "margin": 0.2}, "detail": None})
        for i in range(count)]


def bare_paho(port: int, payload: bytes, count: int, window: int, protocol: str) -> float:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare",
                         protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311)
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    done, acked = threading.Event(), [0]

    def on_publish(c: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        acked[0] += 1
        if acked[0] == count:
            done.set()
    connected = threading.Event()
    client.on_publish = on_publish
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    connected.wait(5)
    started = time.perf_counter()
    for _ in range(count):
        client.publish("kiosk/bench/events/attendance", payload, qos=1)
    if not done.wait(120):
        raise RuntimeError(f"bare paho: only {acked[0]} of {count} acknowledged")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return count / elapsed


async def durable(state: Path, keys: Path, port: int, events: list[dict[str, Any]], burst: int,
                  protocol: str) -> dict[str, float]:
    from kiosk.config import parse_config
    from kiosk.mqtt import MqttService

    config = parse_config({"device": {"id": "bench", "state_dir": str(state)}, "store": {"keys_dir": str(keys)},
                           "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port, "protocol": protocol,
                                    "accept_commands": False, "health_interval_s": 3600}})
    service = MqttService(config)
    await service.start()
    while not service.connected:
        await asyncio.sleep(0.01)
    latencies: list[float] = []
    started = time.perf_counter()
    if burst > 1:
        for i in range(0, len(events), burst):
            await asyncio.gather(*(service.publish_event(e) for e in events[i:i + burst]))
    else:
        for event in events:
            t = time.perf_counter()
            await service.publish_event(event)
            latencies.append(time.perf_counter() - t)
    committed = time.perf_counter() - started
    assert service.queue is not None
    while service.queue.depth or service.queue.published < len(events):
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await service.stop()
    result = {"events_per_s": len(events) / elapsed, "committed_per_s": len(events) / committed}
    if latencies:
        latencies.sort()
        result["commit_ms_p50"] = statistics.median(latencies) * 1000
        result["commit_ms_p99"] = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_mqtt", description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, help="ignored (the runner passes it to every benchmark)")
    parser.add_argument("--events", type=int, default=20_000, help="events per burst / bare run")
    parser.add_argument("--single", type=int, default=2_000, help="events for the one-at-a-time run")
    parser.add_argument("--burst", type=int, default=1000, help="events submitted together in the burst run")
    parser.add_argument("--protocol", choices=["3.1.1", "5"], default="5")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args(argv)
    if not Path(MOSQUITTO).exists():
        print(f"bench_mqtt: {MOSQUITTO} not found (apt install mosquitto); skipped")
        return {"skipped": "mosquitto not installed"}
    import json

    from kiosk.config.mqtt import MqttConfig

    window = MqttConfig().inflight_max
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        root = Path(tmp)
        broker = Broker(root)
        try:
            events = signed_events(root / "keys", "bench", max(args.events, args.single))
            payload = json.dumps(events[0], separators=(",", ":")).encode()
            bare, burst, single = [], [], []
            for run in range(args.repeat):
                bare.append(bare_paho(broker.port, payload, args.events, window, args.protocol))
                burst.append(asyncio.run(durable(root / f"burst{run}", root / "keys", broker.port,
                                                 events[:args.events], args.burst, args.protocol)))
                single.append(asyncio.run(durable(root / f"single{run}", root / "keys", broker.port,
                                                  events[:args.single], 1, args.protocol)))
        finally:
            broker.stop()
    best_bare = max(bare)
    best_burst = max(burst, key=lambda r: r["events_per_s"])
    best_single = max(single, key=lambda r: r["events_per_s"])
    ratio = best_burst["events_per_s"] / best_bare
    print(f"payload {len(payload)} B, QoS 1, MQTT {args.protocol}, window {window}, best of {args.repeat}")
    print(f"{'run':<34}{'events/s':>12}")
    print(f"{'bare paho QoS 1 loop':<34}{best_bare:>12,.0f}")
    print(f"{'durable, bursts of ' + str(args.burst):<34}{best_burst['events_per_s']:>12,.0f}"
          f"   ({ratio:.0%} of bare; target >= 50%)")
    print(f"{'durable, one at a time':<34}{best_single['events_per_s']:>12,.0f}"
          f"   (commit p50 {best_single['commit_ms_p50']:.2f} ms, p99 {best_single['commit_ms_p99']:.2f} ms)")
    return {"payload_bytes": len(payload), "protocol": args.protocol, "window": window, "events": args.events,
            "bare_paho_per_s": round(best_bare), "durable_burst_per_s": round(best_burst["events_per_s"]),
            "durable_single_per_s": round(best_single["events_per_s"]),
            "commit_ms_p50": round(best_single["commit_ms_p50"], 3),
            "commit_ms_p99": round(best_single["commit_ms_p99"], 3),
            "ratio_burst_to_bare": round(ratio, 3), "target_ratio": 0.5, "meets_target": ratio >= 0.5}


if __name__ == "__main__":
    main()
