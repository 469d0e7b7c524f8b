"""Test support for the MQTT area: a real mosquitto on a loopback port, a recording subscriber,
configurations and signed events. Also imported by the subprocess scripts in this folder."""
from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

import paho.mqtt.client as mqtt

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def mosquitto_available() -> bool:
    return os.access(MOSQUITTO, os.X_OK)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mosquitto:
    """A mosquitto process with its own config, persistence and log in `workdir`."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra: str = ""
    anonymous: bool = True
    process: Optional[subprocess.Popen[bytes]] = None

    def config_text(self) -> str:
        return "\n".join([
            f"listener {self.port} 127.0.0.1",
            f"user {getpass.getuser()}",   # as root, mosquitto would switch to 'mosquitto' and lose the workdir
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "max_queued_messages 0",
            "set_tcp_nodelay true",
            f"log_dest file {self.workdir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            self.extra, ""])

    def start(self, timeout: float = 5.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                                   f" {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class Recorder:
    """A paho subscriber (own network thread) that records every message; persistent session."""

    def __init__(self, port: int, topics: list[str], client_id: Optional[str] = None, protocol: int = mqtt.MQTTv311,
                 persistent: bool = True, tls: Optional[dict[str, Any]] = None,
                 username: Optional[str] = None, password: Optional[str] = None) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._cond = threading.Condition()
        self._topics = topics
        kwargs: dict[str, Any] = {}
        if protocol == mqtt.MQTTv311:
            kwargs["clean_session"] = not persistent
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"rec-{uuid.uuid4().hex[:8]}",
                                  protocol=protocol, **kwargs)
        if tls:
            self.client.tls_set(**tls)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.reconnect_delay_set(0.05, 0.5)
        connect_kwargs: dict[str, Any] = {}
        if protocol == mqtt.MQTTv5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600 if persistent else 0
            connect_kwargs = {"clean_start": not persistent, "properties": props}
        self.client.connect("127.0.0.1", port, keepalive=10, **connect_kwargs)
        self.client.loop_start()
        if not self.subscribed.wait(5):
            raise RuntimeError("recorder did not subscribe")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not reason.is_failure:
            client.subscribe([(t, 1) for t in self._topics])

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[mqtt.MQTTMessage]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
            return True

    def on(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def json_on(self, topic: str) -> list[Any]:
        return [json.loads(m.payload) for m in self.on(topic) if m.payload]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def kiosk_config(state_dir: Path, port: int, device_id: str = "kiosk-1", **mqtt_keys: Any):
    """A validated KioskConfig for tests: state in `state_dir`, broker on 127.0.0.1:`port`.

    The test brokers are plain and anonymous, so commands need the explicit override.
    """
    from kiosk.config import parse_config

    mqtt_section = {"enabled": True, "host": "127.0.0.1", "port": port, "reconnect_min_s": 0.05,
                    "reconnect_max_s": 0.5, "keepalive_s": 5, "allow_insecure_commands": True, **mqtt_keys}
    return parse_config({"device": {"id": device_id, "state_dir": str(state_dir)}, "mqtt": mqtt_section})


def make_keys(state_dir: Path) -> Path:
    from kiosk.store.keys import init_keys

    keys = state_dir / "keys"
    init_keys(keys)
    return keys


def make_event(signer: Any, device_id: str, number: int, event_type: str = "attendance",
               event_id: Optional[str] = None) -> dict[str, Any]:
    """A signed event in the docs/contracts.md section 1 shape; `detail.n` carries a sequence number."""
    event = {
        "type": event_type, "event_id": event_id or uuid.uuid4().hex, "device_id": device_id,
        "device_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "person": {"person_id": uuid.uuid4().hex, "employee_no": f"E{number:05d}", "name": f"Person {number}",
                   "role": "staff"},
        "temperature": {"body_c": 36.6, "skin_c": 35.1, "quality": 0.9, "fever": False},
        "liveness": {"live": True, "score": 0.97, "reason": "warm skin"},
        "mask": {"score": 0.02, "masked": False},
        "decision": {"outcome": "granted", "reasons": ["recognised", "temperature normal"]},
        "attendance": {"direction": "in"} if event_type == "attendance" else None,
        "match": {"distance": 0.31, "margin": 0.22},
        "detail": {"n": number},
    }
    return signer.sign(event)


def event_signer(keys_dir: Path):
    from kiosk.store.keys import load_signing_key
    from kiosk.store.signing import EventSigner

    return EventSigner(load_signing_key(keys_dir))


async def until(condition: Callable[[], bool], guard_s: float) -> bool:
    """Waits for `condition` on the event loop (a guard, not a timing assertion)."""
    deadline = time.monotonic() + guard_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def stable_id(device: str, n: int) -> str:
    """The same event always has the same id, as when the daemon re-reads its own event log."""
    return hashlib.sha256(f"{device}:{n}".encode()).hexdigest()[:32]


def read_progress(path: Path) -> int:
    """The number a kiosk process wrote to its progress file (-1 before the first)."""
    try:
        return int(path.read_text().strip() or -1)
    except (FileNotFoundError, ValueError):
        return -1


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL: no kiosk process outlives the test, whatever failed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
