"""MqttService against a real mosquitto: events, status and last will, health, backlog after an outage,
broker refusals, password login, Home Assistant discovery, commands end to end and a quick stop."""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_support import Mosquitto, Recorder, event_signer, free_port, kiosk_config, make_event, make_keys, mosquitto_available

from kiosk.mqtt import MqttService
from kiosk.mqtt.device_signing import PinnedDeviceKeys, verify_message
from kiosk.mqtt.durable import ALARM_REJECTED
from kiosk.mqtt.schemas import first_error
from kiosk.mqtt.signing import new_envelope
from kiosk.store.keys import load_public_key
from kiosk.store.signing import verify_event

pytestmark = [pytest.mark.broker,
              pytest.mark.skipif(not mosquitto_available(), reason="mosquitto not installed (apt install mosquitto)")]
HERE = Path(__file__).resolve().parent


def run(coro: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait(recorder: Recorder, predicate, timeout: float = 10) -> bool:
    return await asyncio.to_thread(recorder.wait_for, predicate, timeout)


def events_of(messages: list[mqtt.MQTTMessage]) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if "/events/" in m.topic]


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_signed_events_status_and_health_reach_a_subscriber(tmp_path: Path, broker: Mosquitto, protocol: str) -> None:
    signer = event_signer(make_keys(tmp_path))
    recorder = Recorder(broker.port, ["kiosk/#"])
    types = ["attendance", "access_granted", "access_denied", "fever_alert", "spoof_attempt", "unknown_face"]

    async def main() -> MqttService:
        service = MqttService(kiosk_config(tmp_path, broker.port, protocol=protocol, health_interval_s=1))
        await service.start()
        service.update_health({"fps": {"pipeline": 12.5}, "pipeline_alive": True, "queues": {"frames": 0}})
        for i in range(60):
            assert await service.publish_event(make_event(signer, "kiosk-1", i, types[i % len(types)]))
        assert await wait(recorder, lambda ms: len(events_of(ms)) >= 60)
        assert await wait(recorder, lambda ms: any(m.topic.endswith("/health") for m in ms), 5)
        await service.stop()
        return service
    service = run(main())
    recorder.close()
    status = recorder.json_on("kiosk/kiosk-1/status")
    assert status[0]["state"] == "online" and status[-1]["state"] == "offline"
    assert all(first_error("status", s) is None for s in status)
    pinned = PinnedDeviceKeys(tmp_path / "devices", own=("kiosk-1", tmp_path / "keys" / "signing.pub"))
    assert all(verify_message(s, "kiosk-1", pinned) == s["public_key"]["key_id"] for s in status)
    public = load_public_key(tmp_path / "keys" / "signing.pub")   # HR pins the device key it was given
    events = [(m.topic, json.loads(m.payload)) for m in recorder.messages if "/events/" in m.topic]
    assert [e["detail"]["n"] for _, e in events] == list(range(60))
    for topic, event in events:
        assert topic == f"kiosk/kiosk-1/events/{event['type']}"
        assert first_error("event", event) is None
        assert verify_event(event, [public]) is None
    assert [m.qos for m in recorder.messages if "/events/" in m.topic] == [1] * 60
    health = recorder.json_on("kiosk/kiosk-1/health")[-1]
    assert first_error("health", health) is None and health["daemon"]["fps"] == {"pipeline": 12.5}
    assert service.queue is not None and service.queue.depth == 0        # every row was acknowledged and removed


def test_the_signed_audit_head_is_published_retained_and_follows_the_ledger(tmp_path: Path, broker: Mosquitto) -> None:
    from kiosk.store import Store
    from kiosk.store.audit_head import SignedHead

    make_keys(tmp_path)
    config = kiosk_config(tmp_path, broker.port, health_interval_s=1)
    store = Store.open(config)
    store.audit("view")
    recorder = Recorder(broker.port, ["kiosk/+/audit/head"])

    def heads(messages: list[mqtt.MQTTMessage]) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in messages]

    async def main() -> None:
        service = MqttService(config, store)
        await service.start()
        assert await wait(recorder, lambda ms: any(h["seq"] == 1 for h in heads(ms)), 5)
        await asyncio.to_thread(store.audit, "view")
        assert await wait(recorder, lambda ms: any(h["seq"] == 2 for h in heads(ms)), 5)
        await service.stop()
    try:
        run(main())
    finally:
        recorder.close()
    late = Recorder(broker.port, ["kiosk/+/audit/head"], client_id="auditor")      # retained for a later reader
    assert late.wait_for(lambda ms: len(ms) >= 1, 5)
    late.close()
    published = heads(late.messages)[-1]
    assert first_error("audit-head", published) is None
    head = SignedHead.parse(published)
    assert head.is_signed_by(load_public_key(tmp_path / "keys" / "signing.pub"))
    assert (head.seq, head.hash) == store.audit_head()
    store.close()


def test_events_committed_while_the_broker_is_down_go_out_in_order_after_it_returns(tmp_path: Path,
                                                                                      broker: Mosquitto) -> None:
    signer = event_signer(make_keys(tmp_path))
    recorder = Recorder(broker.port, ["kiosk/+/events/#"], client_id="hr-system")

    async def main() -> list[float]:
        service = MqttService(kiosk_config(tmp_path, broker.port))
        await service.start()
        while not service.connected:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(broker.stop)
        latencies = []
        for i in range(300):
            started = time.perf_counter()
            assert await service.publish_event(make_event(signer, "kiosk-1", i))
            latencies.append(time.perf_counter() - started)
        assert service.queue is not None and service.queue.depth == 300 and not service.connected
        await asyncio.to_thread(broker.start)
        assert await wait(recorder, lambda ms: len(ms) >= 300, 15)
        assert service.health()["mqtt"]["reconnects"] >= 1
        await service.stop()
        return latencies
    latencies = run(main())
    recorder.close()
    assert [e["detail"]["n"] for e in events_of(recorder.messages)][:300] == list(range(300))
    # Committing never waits for the broker: it was down for the whole loop, so a publish that waited for it
    # would not have returned at all. The bounds are guards against a slow path, loose enough for a busy disk.
    assert statistics.median(latencies) < 0.1 and max(latencies) < 5.0


def test_last_will_marks_a_killed_kiosk_offline(tmp_path: Path, broker: Mosquitto) -> None:
    recorder = Recorder(broker.port, ["kiosk/+/status"])
    proc = subprocess.Popen([sys.executable, str(HERE / "mqtt_publisher_proc.py"), "--state", str(tmp_path),
                             "--port", str(broker.port), "--device", "door-7"], stdout=subprocess.PIPE, text=True)
    try:
        assert recorder.wait_for(lambda ms: any(json.loads(m.payload)["state"] == "online" for m in ms), 15)
        os.kill(proc.pid, 9)
        proc.wait(5)
        assert recorder.wait_for(lambda ms: json.loads(ms[-1].payload)["state"] == "offline", 10)
    finally:
        proc.kill()
        proc.wait()
    recorder.close()
    late = Recorder(broker.port, ["kiosk/+/status"])           # a newcomer sees the retained will
    assert late.wait_for(lambda ms: len(ms) >= 1, 5)
    status = json.loads(late.messages[0].payload)
    late.close()
    assert status["state"] == "offline" and status["device_id"] == "door-7" and first_error("status", status) is None
    pinned = PinnedDeviceKeys(tmp_path / "devices", own=("door-7", tmp_path / "keys" / "signing.pub"))
    assert verify_message(status, "door-7", pinned) == status["public_key"]["key_id"]   # the will is signed too


def test_messages_the_broker_refuses_are_kept_aside_with_an_alarm(tmp_path: Path) -> None:
    """MQTT 5: mosquitto answers a publish its ACL denies with PUBACK 'Not authorized' (0x87)."""
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite kiosk/kiosk-1/status\ntopic readwrite kiosk/kiosk-1/health\n"
                   "topic read kiosk/kiosk-1/cmd/+\ntopic write kiosk/kiosk-1/cmd/+/result\n")
    broker = Mosquitto(tmp_path / "broker", extra=f"acl_file {acl}")
    broker.start()
    signer = event_signer(make_keys(tmp_path))
    alarms: list[frozenset[str]] = []

    async def main() -> MqttService:
        service = MqttService(kiosk_config(tmp_path, broker.port, protocol="5"), on_alarm=alarms.append)
        await service.start()
        for i in range(3):
            await service.publish_event(make_event(signer, "kiosk-1", i))
        for _ in range(1200):   # a deadline for a busy machine, not a timing assertion
            if service.queue is not None and service.queue.rejected == 3:
                break
            await asyncio.sleep(0.05)
        await service.stop()
        return service
    try:
        service = run(main())
    finally:
        broker.stop()
    assert service.queue is not None and service.queue.rejected == 3 and service.queue.depth == 0
    # mosquitto 2.0 drops the connection after each refusal. Where the client reads the PUBACK first this is
    # not taken for a session takeover (test_mqtt_security); where the reset comes first it may be.
    assert ALARM_REJECTED in service.alarms and any(ALARM_REJECTED in raised for raised in alarms)
    assert service.health()["status"] == "degraded"
    import sqlite3
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        reasons = [r[0] for r in db.execute("SELECT reason FROM rejected")]
    assert reasons == ["Not authorized"] * 3


def test_password_from_file_logs_in_and_a_wrong_one_is_retried_not_fatal(tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "kiosk", "s3cret"], check=True,
                   capture_output=True)
    broker = Mosquitto(tmp_path / "broker", extra=f"password_file {passwords}", anonymous=False)
    broker.start()
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("s3cret\n")
    bad.write_text("guess\n")

    async def connects(password_file: Path, state: Path) -> bool:
        make_keys(state)
        service = MqttService(kiosk_config(state, broker.port, username="kiosk", password_file=str(password_file)))
        await service.start()
        for _ in range(40):
            if service.connected:
                break
            await asyncio.sleep(0.05)
        connected = service.connected
        await service.stop()
        return connected
    try:
        assert run(connects(good, tmp_path / "a"))
        assert not run(connects(bad, tmp_path / "b"))
    finally:
        broker.stop()


def test_home_assistant_discovery_when_enabled(tmp_path: Path, broker: Mosquitto) -> None:
    signer = event_signer(make_keys(tmp_path))
    recorder = Recorder(broker.port, ["homeassistant/#", "kiosk/kiosk-1/ha/state"])

    async def main() -> None:
        service = MqttService(kiosk_config(tmp_path, broker.port, ha_discovery=True))
        await service.start()
        assert await wait(recorder, lambda ms: sum(m.topic.endswith("/config") for m in ms) == 5)
        service.set_door(True)
        await service.publish_event(make_event(signer, "kiosk-1", 1))
        assert await wait(recorder, lambda ms: any(b"Person 1" in m.payload for m in ms))
        await service.stop()
    run(main())
    recorder.close()
    configs = [json.loads(m.payload) for m in recorder.messages if m.topic.endswith("/config")]
    assert {c["unique_id"] for c in configs} == {"kiosk_kiosk-1_door", "kiosk_kiosk-1_last_person",
                                                 "kiosk_kiosk-1_last_temperature", "kiosk_kiosk-1_last_event",
                                                 "kiosk_kiosk-1_health"}
    state = recorder.json_on("kiosk/kiosk-1/ha/state")[-1]
    assert state["door"] == "open" and state["last_person"] == "Person 1" and state["last_temperature_c"] == 36.6
    assert first_error("ha-state", state) is None


def test_switching_discovery_off_removes_the_entities_from_home_assistant(tmp_path: Path, broker: Mosquitto) -> None:
    make_keys(tmp_path)

    async def session(ha_discovery: bool, recorder: Recorder, seen) -> None:
        service = MqttService(kiosk_config(tmp_path, broker.port, ha_discovery=ha_discovery))
        await service.start()
        assert await wait(recorder, seen)
        await service.stop()

    def configs(messages: list[mqtt.MQTTMessage]) -> list[mqtt.MQTTMessage]:
        return [m for m in messages if m.topic.startswith("homeassistant/")]

    first = Recorder(broker.port, ["homeassistant/#"])
    run(session(True, first, lambda ms: len(configs(ms)) == 5))
    first.close()
    assert (tmp_path / "ha-discovery.json").exists()
    second = Recorder(broker.port, ["homeassistant/#"])
    # The retained configs reach the new subscriber, then the empty ones that remove them.
    run(session(False, second, lambda ms: sum(not m.payload for m in configs(ms)) == 5))
    second.close()
    assert not (tmp_path / "ha-discovery.json").exists()
    third = Recorder(broker.port, ["homeassistant/#", "kiosk/kiosk-1/status"])
    assert third.wait_for(lambda ms: any(m.topic.endswith("/status") for m in ms), 10)
    third.close()
    assert configs(third.messages) == []                       # nothing retained any more


def test_discovery_is_off_by_default(tmp_path: Path, broker: Mosquitto) -> None:
    make_keys(tmp_path)
    recorder = Recorder(broker.port, ["#"])

    async def main() -> None:
        service = MqttService(kiosk_config(tmp_path, broker.port))
        await service.start()
        assert await wait(recorder, lambda ms: any(m.topic.endswith("/status") for m in ms))
        await service.stop()
    run(main())
    recorder.close()
    assert not any(m.topic.startswith("homeassistant/") or "/ha/" in m.topic for m in recorder.messages)


def test_a_command_sent_with_the_operator_tool_is_executed_and_answered(tmp_path: Path, broker: Mosquitto) -> None:
    make_keys(tmp_path)
    operator = tmp_path / "operator"
    subprocess.run([sys.executable, "-m", "kiosk", "cmd", "keygen", "--out", str(operator)], check=True,
                   capture_output=True)
    (tmp_path / "keys" / "trusted" / "operator.pub").write_bytes((operator / "operator.pub").read_bytes())
    config_file = tmp_path / "kiosk.toml"
    config_file.write_text(f'[device]\nid = "kiosk-1"\nstate_dir = "{tmp_path}"\n'
                           f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
                           'allow_insecure_commands = true\n')
    opened: list[dict[str, Any]] = []
    audits: list[tuple[str, dict[str, Any]]] = []

    async def open_gate(params: dict[str, Any]) -> dict[str, Any]:
        opened.append(params)
        return {"opened": True}

    async def main() -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        service = MqttService(kiosk_config(tmp_path, broker.port), audit=lambda a, d: audits.append((a, d)))
        service.commands.register("open_gate", open_gate)
        await service.start()
        while not service.connected:
            await asyncio.sleep(0.02)
        base = [sys.executable, "-m", "kiosk", "cmd", "send", "--config", str(config_file), "--device", "kiosk-1"]
        good = await asyncio.to_thread(subprocess.run, [*base, "open_gate", "--key", str(operator / "operator.key"),
                                                        "--params", '{"duration_s": 2, "reason": "delivery"}'],
                                       capture_output=True, text=True, timeout=30)
        unsigned = await asyncio.to_thread(subprocess.run, [*base, "open_gate", "--unsigned"],
                                           capture_output=True, text=True, timeout=30)
        await service.stop()
        return good, unsigned
    good, unsigned = run(main())
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["result"] == {"opened": True}
    assert opened == [{"duration_s": 2, "reason": "delivery"}]
    assert unsigned.returncode == 1 and json.loads(unsigned.stdout)["error"]["code"] == "unauthorised"
    assert [d["outcome"] for _, d in audits] == ["executed", "refused_summary"]   # at stop


def test_stop_is_quick_connected_or_not(tmp_path: Path, broker: Mosquitto) -> None:
    signer = event_signer(make_keys(tmp_path))

    async def main(port: int) -> float:
        service = MqttService(kiosk_config(tmp_path, port))
        await service.start()
        for i in range(200):
            await service.publish_event(make_event(signer, "kiosk-1", i))
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        await service.stop()
        return time.perf_counter() - started
    assert run(main(broker.port)) < 1.0
    assert run(main(1)) < 1.0              # nothing listens on port 1: stop while reconnecting


def readme_acl() -> str:
    """The mosquitto ACL example from the README's MQTT section (tested as documented)."""
    text = (HERE.parents[1] / "README.md").read_text()
    start = text.index("```\n# kiosks: their own topics") + 4
    return text[start:text.index("```", start)]


def test_the_readme_acl_example_lets_each_party_do_its_job_and_no_more(tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    for user in ("kiosk-1", "hr", "operator", "intruder"):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if user == "kiosk-1" else []), str(passwords), user, "pw"],
                       check=True, capture_output=True)
    (tmp_path / "acl").write_text(readme_acl())
    (tmp_path / "pw").write_text("pw\n")
    broker = Mosquitto(tmp_path / "broker", anonymous=False,
                       extra=f"password_file {passwords}\nacl_file {tmp_path / 'acl'}")
    broker.start()

    def client(user: str, topics: list[str]) -> Recorder:
        return Recorder(broker.port, topics, client_id=f"{user}-test", protocol=mqtt.MQTTv5, persistent=False,
                        username=user, password="pw")
    keys = make_keys(tmp_path / "kiosk")
    signer = event_signer(keys)
    hr = client("hr", ["kiosk/+/events/#", "kiosk/+/status"])
    operator_results = client("operator", ["kiosk/+/cmd/+/result"])
    intruder = client("intruder", ["kiosk/#"])
    handled: list[dict[str, Any]] = []

    async def selftest(params: dict[str, Any]) -> dict[str, Any]:
        handled.append(params)
        return {"ok": True}

    async def main() -> None:
        config = kiosk_config(tmp_path / "kiosk", broker.port, username="kiosk-1", password_file=str(tmp_path / "pw"),
                              command_auth="acl", protocol="5")
        service = MqttService(config)
        service.commands.register("selftest", selftest)
        await service.start()
        while not service.connected:
            await asyncio.sleep(0.02)
        await service.publish_event(make_event(signer, "kiosk-1", 1))
        assert await wait(hr, lambda ms: any("/events/" in m.topic for m in ms))
        intruder.publish("kiosk/kiosk-1/cmd/selftest", json.dumps(new_envelope("selftest", "kiosk-1", {})))
        operator_results.publish("kiosk/kiosk-1/cmd/selftest", json.dumps(new_envelope("selftest", "kiosk-1", {})))
        assert await wait(operator_results, lambda ms: len(ms) >= 1)
        await asyncio.sleep(0.3)
        await service.stop()
    try:
        run(main())
    finally:
        for c in (hr, operator_results, intruder):
            c.close()
        broker.stop()
    assert len(handled) == 1                                    # only the operator's command reached the kiosk
    assert json.loads(operator_results.messages[0].payload)["ok"] is True
    assert any(json.loads(m.payload)["state"] == "online" for m in hr.messages if m.topic.endswith("/status"))
    assert intruder.messages == []                              # reads nothing, commands nothing


def test_probe_for_selftest(tmp_path: Path, broker: Mosquitto) -> None:
    from kiosk.mqtt import probe
    assert run(probe(kiosk_config(tmp_path, broker.port).mqtt, "kiosk-1-selftest")) is None
    reason = run(probe(kiosk_config(tmp_path, free_port()).mqtt, "kiosk-1-selftest"))
    assert reason is not None and "Connection refused" in reason
