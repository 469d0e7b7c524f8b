"""A flooding MQTT client, in a process of its own (as it would be on another machine): publishes
unsigned commands evenly over a number of seconds, QoS 1, and prints how long it took until all were acked.

    python -m bench.flood_client PORT DEVICE COUNT SECONDS [PAYLOAD_FILE]

PAYLOAD_FILE (raw bytes) is published first, before the flood (the test sends a lone surrogate this way).
"""
from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from kiosk.mqtt.signing import new_envelope


def flood(port: int, device: str, count: int, seconds: float, first: bytes | None = None) -> float:
    payloads = [json.dumps(new_envelope("open_gate", device, {"reason": "flood"})).encode() for _ in range(count)]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"flood-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(5):
        raise RuntimeError("the flooding client did not connect")
    topic = f"kiosk/{device}/cmd/open_gate"
    if first is not None:
        client.publish(topic, first, qos=1).wait_for_publish(10)
    started = time.perf_counter()
    info = None
    for i, payload in enumerate(payloads):
        delay = started + seconds * i / count - time.perf_counter()
        if delay > 0.001:
            time.sleep(delay)
        info = client.publish(topic, payload, qos=1)
    if info is not None:
        info.wait_for_publish(120)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return elapsed


if __name__ == "__main__":
    first = Path(sys.argv[5]).read_bytes() if len(sys.argv) > 5 else None
    print(f"{flood(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), first):.3f}")
