"""Helpers for the end-to-end tests: the broker (shared with tests/mqtt) and an HR-side listener."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mqtt"))
from mqtt_support import MOSQUITTO, Mosquitto, mosquitto_available  # noqa: E402

__all__ = ["MOSQUITTO", "Listener", "Mosquitto", "mosquitto_available"]

ACCESS = ("access_granted", "access_denied")


class Listener:
    """An HR-side subscriber collecting the device's events."""

    def __init__(self, port: int, device: str) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hr-listener-{device}")
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"kiosk/{device}/events/#", qos=1)
        self.client.loop_start()

    def _message(self, client, userdata, message) -> None:
        with self.lock:
            self.events.append(json.loads(message.payload))

    def access(self) -> list[dict]:
        with self.lock:
            seen, out = set(), []
            for event in self.events:   # at-least-once: de-duplicate by event id
                if event["type"] in ACCESS and event["event_id"] not in seen:
                    seen.add(event["event_id"])
                    out.append(event)
            return out

    def of_type(self, kind: str) -> list[dict]:
        with self.lock:
            return [e for e in self.events if e["type"] == kind]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
