"""Every MQTT payload has a JSON Schema file; real payloads validate, broken ones do not."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator
from mqtt_support import event_signer, kiosk_config, make_event, make_keys

from kiosk.mqtt.device_signing import sign_message
from kiosk.mqtt.fleet import FleetCipher
from kiosk.mqtt.ha import HaState, discovery_messages, removal_messages
from kiosk.mqtt.schemas import COMMANDS, first_error, load_schema, schema_names
from kiosk.mqtt.service import MqttService
from kiosk.mqtt.signing import new_envelope, sign_envelope
from kiosk.mqtt.topics import Topics
from kiosk.service.health import HealthMonitor

EXPECTED = {"event", "status", "health", "command", "command-result", "person-record", "fleet-envelope", "ha-state",
            "audit-head", *(f"cmd-{name}" for name in COMMANDS)}


def test_one_schema_per_payload_and_each_is_valid() -> None:
    assert set(schema_names()) == EXPECTED
    for name in schema_names():
        Draft202012Validator.check_schema(load_schema(name))


def test_schema_files_ship_as_package_data() -> None:
    setup_cfg = (Path(__file__).resolve().parents[2] / "setup.cfg").read_text()
    assert "mqtt/schemas/*.json" in setup_cfg


def test_signed_event_matches_and_broken_events_do_not(tmp_path: Path) -> None:
    signer = event_signer(make_keys(tmp_path))
    event = make_event(signer, "kiosk-1", 7)
    assert first_error("event", event) is None
    for event_type in ("access_denied", "fever_alert", "spoof_attempt", "unknown_face", "door_forced_open"):
        assert first_error("event", make_event(signer, "kiosk-1", 1, event_type)) is None
    assert "event_id" in first_error("event", {**event, "event_id": "not-hex"})
    assert "signature" in first_error("event", {k: v for k, v in event.items() if k != "signature"})
    legacy = {k: v for k, v in event["signature"].items() if k != "canon"}     # signed before RFC 8785
    assert event["signature"]["canon"] == "jcs" and first_error("event", {**event, "signature": legacy}) is None
    assert first_error("event", {**event, "signature": {**legacy, "canon": "c14n"}}) is not None
    assert first_error("event", {**event, "embedding": [0.1]}) is not None      # no face data, no extra keys
    assert first_error("event", {**event, "device_time": "yesterday"}) is not None
    assert first_error("event", {**event, "person": {"person_id": "x"}}) is not None


def test_status_and_health_from_the_service_match(tmp_path: Path) -> None:
    make_keys(tmp_path)
    service = MqttService(kiosk_config(tmp_path, 1883))
    service._load_device_key()
    for state in ("online", "offline"):
        status = json.loads(service._status(state))
        assert first_error("status", status) is None, status
    monitor = HealthMonitor(stall_s=5)            # the daemon's own report, as the daemon passes it
    monitor.tick("capture")
    monitor.pipeline_result()
    monitor.latency("recognition", 0.042)
    monitor.count("decisions_granted")
    monitor.raise_alarm("thermal", "no frame for 3 s")
    monitor.gauge("queues", lambda: {"frames": 1, "frames_dropped": 4, "events": 0})
    monitor.gauge("camera_health", lambda: {"state": "ok", "frames": 120})
    service.update_health(monitor.report())
    assert first_error("health", service.health()) is None
    service.update_health({"queues": {"frames": -1}})
    assert "queues" in first_error("health", service.health())


def test_the_published_audit_head_matches(tmp_path: Path) -> None:
    from kiosk.store import Store

    config = kiosk_config(tmp_path, 1883)
    make_keys(tmp_path)
    service = MqttService(config)
    assert service._audit_head_payload() is None                  # no head file yet: nothing to publish
    with Store.open(config) as store:
        store.audit("view")
    head = json.loads(service._audit_head_payload())
    assert first_error("audit-head", head) is None, head
    assert head["device_id"] == "kiosk-1" and head["seq"] == 1
    assert first_error("audit-head", {**head, "hash": "xyz"}) is not None
    assert first_error("audit-head", {k: v for k, v in head.items() if k != "signature"}) is not None


def test_commands_and_results_match(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    samples = {
        "open_gate": {"duration_s": 3, "reason": "delivery"},
        "enroll": {"person": {"employee_no": "E1", "name": "Ada", "role": "staff"},
                   "consent": {"given_by": "Ada", "given_at": "2026-01-01T09:00:00+00:00", "notice_version": "v1",
                               "method": "signed form", "scope": ["recognition", "fleet"]},
                   "embedding": {"model_id": "m1", "embedding_b64": base64.b64encode(b"\0" * 512).decode()}},
        "delete_person": {"person_id": "a" * 32, "reason": "left the company"},
        "sync": {}, "reload_config": {}, "selftest": {},
    }
    for name, params in samples.items():
        envelope = sign_envelope(new_envelope(name, "kiosk-1", params), key)
        assert first_error("command", envelope) is None
        assert first_error(f"cmd-{name}", envelope["params"]) is None
    enroll = samples["enroll"]
    assert first_error("cmd-enroll", {k: v for k, v in enroll.items() if k != "embedding"}) is not None  # no face
    assert first_error("cmd-enroll", {**enroll, "image_b64": "A" * 100}) is not None                   # both
    assert first_error("cmd-delete_person", {}) is not None
    assert first_error("cmd-open_gate", {"duration_s": 3600}) is not None
    result = {"request_id": "r1", "command": "open_gate", "device_id": "kiosk-1", "time": "2026-01-01T09:00:00+00:00",
              "ok": False, "result": None, "error": {"code": "unauthorised", "message": "not signed"}}
    assert first_error("command-result", result) is not None             # results are signed
    result = sign_message(result, Ed25519PrivateKey.generate())
    assert first_error("command-result", result) is None
    assert first_error("command-result", {**result, "error": {"code": "whatever", "message": ""}}) is not None


def test_fleet_record_and_envelope_match() -> None:
    record = {"person_id": "b" * 32, "version": {"counter": 3, "device": "kiosk-2"}, "deleted": False,
              "person": {"employee_no": "E9", "name": "Grace", "role": "staff", "valid_from": None, "valid_to": None,
                         "schedule": None, "status": "active"},
              "consent": {"consent_id": "c1", "given_by": "Grace", "given_at": "2026-01-01T09:00:00+00:00",
                          "notice_version": "v1", "method": "kiosk", "guardian": None, "scope": ["fleet"]},
              "templates": [{"model_id": "m1", "embedding_b64": "AAAA", "quality": 0.9,
                             "created": "2026-01-01T09:00:00+00:00"}]}
    assert first_error("person-record", record) is None
    tombstone = {**record, "deleted": True, "person": None, "consent": None, "templates": []}
    assert first_error("person-record", tombstone) is None
    assert first_error("person-record", {**tombstone, "templates": record["templates"]}) is not None
    sealed = json.loads(FleetCipher(b"k" * 32).seal(record))
    assert first_error("fleet-envelope", sealed) is None


def test_home_assistant_payloads() -> None:
    topics = Topics("kiosk", "door.1", "kiosk/fleet")
    messages = discovery_messages(topics, "homeassistant")
    assert [t for t, _ in messages] == [
        "homeassistant/binary_sensor/kiosk_door_1/door/config", "homeassistant/sensor/kiosk_door_1/last_person/config",
        "homeassistant/sensor/kiosk_door_1/last_temperature/config",
        "homeassistant/sensor/kiosk_door_1/last_event/config", "homeassistant/sensor/kiosk_door_1/health/config"]
    configs = {t.split("/")[-2]: json.loads(p) for t, p in messages}
    for config in configs.values():
        assert config["availability_topic"] == "kiosk/door.1/status" and config["unique_id"].startswith("kiosk_door_1_")
        assert "object_id" not in config and config["origin"]["name"] == "kiosk"     # object_id is deprecated in HA
    assert configs["door"]["default_entity_id"] == "binary_sensor.kiosk_door_1_door"
    assert configs["last_temperature"]["state_class"] == "measurement"
    assert configs["health"]["entity_category"] == "diagnostic"
    assert removal_messages(topics, "homeassistant") == [(t, b"") for t, _ in messages]
    door = jinja2.Environment().from_string(configs["door"]["value_template"])   # HA renders it with Jinja2
    assert [door.render(value_json={"door": d}) for d in ("open", "closed", None)] == ["ON", "OFF", "None"]
    state = HaState()
    assert state.document()["door"] is None                  # no contact: HA shows unknown, not closed
    assert state.set_door(True)
    assert state.note_event({"type": "attendance", "person": {"name": "Ada"}, "temperature": {"body_c": 36.71},
                             "device_time": "2026-01-01T09:00:00+00:00"})
    document = state.document()
    assert document["last_person"] == "Ada" and document["last_temperature_c"] == 36.71
    assert document["last_event_type"] == "attendance"
    assert first_error("ha-state", document) is None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_schema_has_a_title(name: str) -> None:
    assert load_schema(name).get("title")


def test_the_event_schema_is_generated_from_the_event_model() -> None:
    """One definition of an event: the published schema is kiosk/event_model.py's (regenerate with
    `python -m kiosk.event_model > kiosk/mqtt/schemas/event.schema.json`)."""
    from kiosk.event_model import json_schema

    published = json.loads((Path(__file__).resolve().parents[2] / "kiosk" / "mqtt" / "schemas" /
                            "event.schema.json").read_text())
    assert published == json_schema()


def test_the_event_model_names_the_field_that_breaks_the_contract() -> None:
    from kiosk.event_model import event_problem

    good = {"type": "alarm", "event_id": "a" * 32, "device_id": "kiosk-1", "device_time": "2026-03-04T10:00:00Z"}
    assert event_problem(good, signed=False) is None
    assert "not signed" in event_problem(good, signed=True)
    assert "'person.employee_no'" in event_problem({**good, "person": {"person_id": "p"}}, signed=False)
    assert "'temperature.quality'" in event_problem({**good, "temperature": {
        "body_c": 36.6, "skin_c": 34.1, "quality": 1.5, "fever": False}}, signed=False)
    assert "'seq'" in event_problem({**good, "seq": "7"}, signed=False)           # strict: no coercion
    assert "not null" in event_problem({**good, "seq": None}, signed=False)
    assert "'embedding'" in event_problem({**good, "embedding": [0.1] * 128}, signed=False)   # no extra fields
