"""Against a real mosquitto: forged command results and a forged status are not believed, and another client
with the kiosk's client id raises an alarm (README: MQTT, Commands and authorisation)."""
from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_support import Mosquitto, kiosk_config, make_keys, mosquitto_available

from kiosk.mqtt import MqttService
from kiosk.mqtt.device_signing import sign_message
from kiosk.mqtt.schemas import first_error
from kiosk.mqtt.takeover import ALARM
from kiosk.store.keys import key_id, load_public_key

pytestmark = [pytest.mark.broker,
              pytest.mark.skipif(not mosquitto_available(), reason="mosquitto not installed (apt install mosquitto)")]


def run(coro: Any, timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def kiosk_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60)


def write_public(key: Ed25519PrivateKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))


def write_private(key: Ed25519PrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def operator_config(tmp_path: Path, port: int) -> Path:
    """The operator's own configuration: another device id, kiosk-1's key pinned in <keys_dir>/devices/."""
    ops = tmp_path / "ops"
    (ops / "keys" / "devices").mkdir(parents=True)
    shutil.copy(tmp_path / "kiosk" / "keys" / "signing.pub", ops / "keys" / "devices" / "kiosk-1.pub")
    path = ops / "kiosk.toml"
    path.write_text(f'[device]\nid = "ops-laptop"\nstate_dir = "{ops}"\n[mqtt]\nhost = "127.0.0.1"\nport = {port}\n')
    return path


class Forger:
    """Anyone on an open broker: answers every command at once with a forged success, signed by its own key."""

    def __init__(self, port: int, key: Ed25519PrivateKey) -> None:
        self.key = key
        self.commands: list[str] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forger")
        self.client.on_message = self._answer
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("kiosk/+/cmd/+", qos=1)     # requests only (results are one level deeper)
        self.client.loop_start()
        assert subscribed.wait(5)

    def _answer(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        envelope = json.loads(message.payload)
        self.commands.append(message.topic)
        forged = {"request_id": envelope["request_id"], "command": envelope["command"],
                  "device_id": envelope["device_id"], "time": envelope["issued_at"], "ok": True,
                  "result": {"person_id": "a" * 32, "erased": True}, "error": None}
        client.publish(f"{message.topic}/result", json.dumps(sign_message(forged, self.key)), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_forged_result_is_refused_and_the_genuine_one_wins(tmp_path: Path, broker: Mosquitto) -> None:
    keys = make_keys(tmp_path / "kiosk")
    operator = Ed25519PrivateKey.generate()
    write_private(operator, tmp_path / "operator.key")
    write_public(operator, keys / "trusted" / "operator.pub")
    ops = operator_config(tmp_path, broker.port)
    forger = Forger(broker.port, Ed25519PrivateKey.generate())
    send = ["cmd", "send", "--config", str(ops), "--key", str(tmp_path / "operator.key"), "--timeout", "3"]

    async def open_gate(params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.2)                        # the forger answers first
        return {"opened": True}

    async def main() -> tuple[subprocess.CompletedProcess, ...]:
        service = MqttService(kiosk_config(tmp_path / "kiosk", broker.port))
        service.commands.register("open_gate", open_gate)
        await service.start()
        while not service.connected:
            await asyncio.sleep(0.02)
        try:
            genuine = await asyncio.to_thread(kiosk_cli, *send, "open_gate", "--device", "kiosk-1")
            unpinned = await asyncio.to_thread(kiosk_cli, *send, "delete_person", "--device", "ghost",
                                               "--params", json.dumps({"person_id": "a" * 32}))
            write_public(Ed25519PrivateKey.generate(), tmp_path / "ops" / "keys" / "devices" / "ghost.pub")
            pinned = await asyncio.to_thread(kiosk_cli, *send, "delete_person", "--device", "ghost",
                                             "--params", json.dumps({"person_id": "a" * 32}))
        finally:
            await service.stop()
        return genuine, unpinned, pinned
    genuine, unpinned, pinned = run(main())
    forger.close()
    assert genuine.returncode == 0, genuine.stderr
    answer = json.loads(genuine.stdout)
    assert answer["result"] == {"opened": True} and first_error("command-result", answer) is None
    # A kiosk that does not exist: nothing is sent without a key to check its answer with ...
    assert unpinned.returncode == 1 and "no key pinned for device 'ghost'" in unpinned.stderr
    assert unpinned.stdout == "" and "kiosk/ghost/cmd/delete_person" not in forger.commands[:1]
    # ... and with a key pinned, the forged "ok: true, erased: true" is refused.
    assert pinned.returncode == 1 and pinned.stdout == ""
    assert "no signed result from ghost within 3 s that verifies; 1 refused" in pinned.stderr
    assert f"signed by key '{key_id(forger.key.public_key())}'" in pinned.stderr
    assert forger.commands == ["kiosk/kiosk-1/cmd/open_gate", "kiosk/ghost/cmd/delete_person"]


def test_a_forged_status_and_its_key_are_not_believed(tmp_path: Path, broker: Mosquitto) -> None:
    make_keys(tmp_path / "kiosk")
    ops = operator_config(tmp_path, broker.port)
    pinned_before = sorted((tmp_path / "ops" / "keys" / "devices").iterdir())
    status = ["cmd", "status", "--config", str(ops), "--device", "kiosk-1", "--timeout", "2"]

    async def main() -> subprocess.CompletedProcess:
        service = MqttService(kiosk_config(tmp_path / "kiosk", broker.port))
        await service.start()
        while not service.connected:
            await asyncio.sleep(0.02)
        online = await asyncio.to_thread(kiosk_cli, *status)
        await service.stop()
        return online
    online = run(main())
    assert online.returncode == 0, online.stderr
    real = json.loads(online.stdout)
    assert real["state"] == "online" and first_error("status", real) is None
    assert real["public_key"]["key_id"] == key_id(load_public_key(tmp_path / "kiosk" / "keys" / "signing.pub"))

    forger = Ed25519PrivateKey.generate()
    forged = {**real, "since": real["since"], "public_key": {"alg": "Ed25519", "key_id": key_id(forger.public_key())}}
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forger")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    publisher.publish("kiosk/kiosk-1/status", json.dumps(sign_message(forged, forger)), qos=1,
                      retain=True).wait_for_publish(5)
    publisher.disconnect()
    publisher.loop_stop()
    refused = kiosk_cli(*status)
    assert refused.returncode == 1 and refused.stdout == ""
    assert (f"signed by key '{key_id(forger.public_key())}', not by {real['public_key']['key_id']} pinned for kiosk-1"
            in refused.stderr)
    assert sorted((tmp_path / "ops" / "keys" / "devices").iterdir()) == pinned_before   # nothing learned


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_another_client_with_the_kiosk_client_id_raises_an_alarm(tmp_path: Path, broker: Mosquitto, protocol: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    make_keys(tmp_path)
    caplog.set_level(logging.ERROR, "kiosk.mqtt")
    alarms: list[frozenset[str]] = []

    async def main() -> MqttService:
        service = MqttService(kiosk_config(tmp_path, broker.port, protocol=protocol), on_alarm=alarms.append)
        await service.start()
        while not service.connected:
            await asyncio.sleep(0.02)
        intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=service.client_id,
                               protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311)
        intruder.reconnect_delay_set(0.05, 0.2)
        intruder.connect("127.0.0.1", broker.port)
        intruder.loop_start()                      # reconnects whenever the kiosk takes the session back
        try:
            deadline = time.monotonic() + 30
            while ALARM not in service.alarms and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            intruder.disconnect()
            intruder.loop_stop()
        health = service.health()
        await service.stop()
        assert first_error("health", health) is None and ALARM in health["alarms"]
        return service
    service = run(main())
    assert any(ALARM in raised for raised in alarms)
    assert service.takeovers.total >= 3
    reports = [r for r in caplog.records if "client id 'kiosk-kiosk-1'" in r.getMessage()]
    assert 1 <= len(reports) <= 2                      # rate-limited: one line, not one per takeover
