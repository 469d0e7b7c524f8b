"""Helpers for the end-to-end tests: the broker (shared with tests/mqtt) and an HR-side listener."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mqtt"))
from mqtt_support import MOSQUITTO, Mosquitto, mosquitto_available  # noqa: E402

__all__ = ["MOSQUITTO", "Listener", "Mosquitto", "kiosk", "mosquitto_available", "sim_kiosk", "unrecognised_frames",
           "wait_online"]

ACCESS = ("access_granted", "access_denied")


def kiosk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the `kiosk` CLI of this checkout."""
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=timeout)


def sim_kiosk(state: Path, models_dir: Path, sim_dir: Path, **sections: dict[str, Any]) -> Path:
    """A kiosk on simulated hardware with its state (and keys) in `state`; returns its config file.

    `sections` override or add configuration tables, e.g. `mqtt={"enabled": True, "port": 1883}`.
    """
    config: dict[str, dict[str, Any]] = {
        "device": {"state_dir": str(state)}, "camera": {"backend": "mock"},
        "thermal": {"backend": "mock", "refresh_hz": 16}, "gate": {"backend": "mock"},
        "face": {"models_dir": str(models_dir)}, "sim": {"assets_dir": str(sim_dir)}}
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    state.mkdir(parents=True, exist_ok=True)
    created = kiosk("keys", "init", "--dir", str(state / "keys"))
    assert created.returncode == 0, created.stderr
    path = state / "kiosk.toml"
    path.write_text(tomli_w.dumps(config))
    return path


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


def wait_online(port: int, device: str, timeout: float = 60.0) -> bool:
    """True once the device's retained status says it is online (its daemon is connected and subscribed)."""
    online = threading.Event()

    def message(client, userdata, msg) -> None:
        if json.loads(msg.payload).get("state") == "online":
            online.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"status-watch-{device}")
    client.on_message = message
    client.connect("127.0.0.1", port)
    client.subscribe(f"kiosk/{device}/status", qos=1)
    client.loop_start()
    try:
        return online.wait(timeout)
    finally:
        client.loop_stop()
        client.disconnect()


def unrecognised_frames(log: str) -> int:
    """How many of the latest frames in a row matched nobody (recognizer DEBUG lines)."""
    frames = [line for line in log.splitlines() if "kiosk.recognizer frame" in line]
    run = 0
    for line in reversed(frames):
        if " person=null " not in line:
            break
        run += 1
    return run
