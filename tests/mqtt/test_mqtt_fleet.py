"""Acceptance: two kiosk processes (real Store, live Matcher, MqttService) share a broker. A person enrolled on
one is recognised by the other within 5 s; a deletion on one removes the person from both; a kiosk that was
offline catches up; concurrent edits converge on the higher (counter, device) version everywhere. Attacks on the
retained records: a replayed pre-erasure record does not bring a person back to a fresh kiosk, and a cleared
retained tombstone is put back."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_support import Mosquitto, Recorder, kiosk_config, make_keys

from kiosk.mqtt.fleet import FleetCipher
from kiosk.mqtt.signing import new_envelope, sign_envelope
from kiosk.recognition.matching import Matcher
from kiosk.store.store import Store

pytestmark = [pytest.mark.broker, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
MODEL_ID = "test-model-128"     # as in mqtt_kiosk_proc.py
THRESHOLD = 0.6
CONSENT = {"given_by": "the person", "given_at": "2026-01-05T09:00:00+00:00", "notice_version": "v1",
           "method": "signed form", "scope": ["local", "fleet"]}


class Kiosk:
    """One kiosk process; collects its stdout lines."""

    def __init__(self, state: Path, port: int, device: str) -> None:
        self.state, self.port, self.device = state, port, device
        self.config = kiosk_config(state, port, device)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc: Optional[subprocess.Popen[str]] = None

    def start(self) -> None:
        self.lines = []
        self.proc = subprocess.Popen([sys.executable, str(HERE / "mqtt_kiosk_proc.py"), "--state", str(self.state),
                                      "--port", str(self.port), "--device", self.device],
                                     stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        assert self.wait_line(lambda line: line == "ready", 20), f"{self.device} did not start"

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._cond:
                self.lines.append(line.strip())
                self._cond.notify_all()

    def wait_line(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(predicate(line) for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def gallery(self) -> Optional[int]:
        with self._cond:
            counts = [int(line.split()[1]) for line in self.lines if line.startswith("gallery ")]
        return counts[-1] if counts else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def store(self) -> Store:
        return Store.open(self.config)


def command(sender: Recorder, operator: Ed25519PrivateKey, device: str, name: str, params: dict[str, Any]) -> dict:
    envelope = sign_envelope(new_envelope(name, device, params), operator)
    before = len(sender.messages)
    sender.publish(f"kiosk/{device}/cmd/{name}", json.dumps(envelope))
    assert sender.wait_for(lambda ms: any(json.loads(m.payload).get("request_id") == envelope["request_id"]
                                          for m in ms[before:]), 15)
    reply = next(json.loads(m.payload) for m in sender.messages[before:]
                 if json.loads(m.payload).get("request_id") == envelope["request_id"])
    assert reply["ok"], reply
    return reply["result"]


def until(predicate, timeout: float) -> float:
    """Seconds until predicate() held; AssertionError after timeout."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def matches(kiosk: Kiosk, embedding: np.ndarray) -> Optional[str]:
    """Who this kiosk's own database would recognise for `embedding` (opened like the daemon opens it)."""
    with kiosk.store() as store:
        return Matcher.from_store(store, MODEL_ID).search(embedding, THRESHOLD).person_id


def enroll_params(employee_no: str, embedding: np.ndarray) -> dict[str, Any]:
    return {"person": {"employee_no": employee_no, "name": f"Person {employee_no}", "role": "staff"},
            "consent": CONSENT, "embedding": {"model_id": MODEL_ID,
                                              "embedding_b64": base64.b64encode(embedding.astype("<f4")).decode()}}


def provision(tmp_path: Path, port: int, operator: Ed25519PrivateKey, devices: tuple[str, ...]) -> list[Kiosk]:
    """Kiosks of one site: one fleet key, the operator's key trusted, every kiosk's signing.pub pinned on the others."""
    kiosks = []
    for device in devices:
        state = tmp_path / device
        keys = make_keys(state)
        (keys / "trusted" / "ops.pem").write_bytes(operator.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        kiosks.append(Kiosk(state, port, device))
    for kiosk in kiosks[1:]:
        fleet_key = kiosk.state / "keys" / "fleet.key"
        fleet_key.unlink()
        shutil.copy2(kiosks[0].state / "keys" / "fleet.key", fleet_key)
    for kiosk in kiosks:
        pinned = kiosk.config.device_keys_dir
        pinned.mkdir(exist_ok=True)
        for other in kiosks:
            if other is not kiosk:
                shutil.copy2(other.state / "keys" / "signing.pub", pinned / f"{other.device}.pub")
    return kiosks


@pytest.fixture
def fleet(tmp_path: Path, broker: Mosquitto):
    operator = Ed25519PrivateKey.generate()
    kiosks = provision(tmp_path, broker.port, operator, ("kiosk-a", "kiosk-b"))
    for kiosk in kiosks:
        kiosk.start()
    sender = Recorder(broker.port, ["kiosk/+/cmd/+/result"], persistent=False)
    yield kiosks[0], kiosks[1], sender, operator
    sender.close()
    for kiosk in kiosks:
        kiosk.stop()


def test_enrolled_on_one_recognised_on_the_other_and_deleted_from_both(fleet) -> None:
    a, b, sender, operator = fleet
    rng = np.random.default_rng(7)
    face = rng.normal(size=128).astype(np.float32) * 0.05
    person_id = command(sender, operator, "kiosk-a", "enroll", enroll_params("E100", face))["person_id"]
    until(lambda: a.gallery() == 1, 5.0)          # its stdout line may come a moment after the result
    seconds = until(lambda: b.gallery() == 1, 5.0)                       # B's live matcher has the person
    assert matches(b, face + 0.001) == person_id                          # and B's database recognises them
    print(f"\nenrolled on A, recognised on B after {seconds:.2f} s")

    command(sender, operator, "kiosk-b", "delete_person", {"person_id": person_id, "reason": "left"})
    until(lambda: a.gallery() == 0, 5.0)
    for kiosk in (a, b):
        assert matches(kiosk, face) is None
        with kiosk.store() as store:
            person = store.person_by_id(person_id)
            assert person is not None and person.deleted and store.templates(person_id) == []


def test_an_offline_kiosk_catches_up_and_concurrent_edits_converge(fleet, broker: Mosquitto) -> None:
    a, b, sender, operator = fleet
    rng = np.random.default_rng(11)
    first, second = (rng.normal(size=128).astype(np.float32) * 0.05 for _ in range(2))
    shared = command(sender, operator, "kiosk-a", "enroll", enroll_params("E200", first))["person_id"]
    until(lambda: b.gallery() == 1, 5.0)

    b.stop()                                                               # B is offline...
    late = command(sender, operator, "kiosk-a", "enroll", enroll_params("E201", second))["person_id"]
    b.start()                                                              # ...and catches up from retained records
    until(lambda: b.gallery() == 2, 5.0)
    assert matches(b, second) == late

    a.stop()
    b.stop()
    for kiosk in (a, b):                                                   # both edit the same person while apart
        with kiosk.store() as store:
            store.update_person(shared, name=f"renamed on {kiosk.device}")
    versions = {}
    for kiosk in (a, b):
        with kiosk.store() as store:
            person = store.person_by_id(shared)
            versions[kiosk.device] = (person.version_counter, person.version_device)
    winner = max(versions, key=lambda device: versions[device])
    a.start()
    b.start()

    def converged() -> bool:
        names = set()
        for kiosk in (a, b):
            with kiosk.store() as store:
                names.add(store.person_by_id(shared).name)
        return names == {f"renamed on {winner}"}
    until(converged, 10.0)
    retained = Recorder(broker.port, [f"kiosk/fleet/persons/{shared}"], persistent=False)
    assert retained.wait_for(lambda ms: len(ms) >= 1, 5)
    key = (a.state / "keys" / "fleet.key").read_bytes()
    record = FleetCipher(key).open(shared, retained.messages[-1].payload)
    retained.close()
    assert (record["version"]["counter"], record["version"]["device"]) == versions[winner]
    assert record["person"]["name"] == f"renamed on {winner}"


def test_withdrawing_fleet_consent_outside_the_daemon_erases_the_person_on_the_other_kiosk(fleet, broker) -> None:
    a, b, sender, operator = fleet
    face = np.random.default_rng(13).normal(size=128).astype(np.float32) * 0.05
    person_id = command(sender, operator, "kiosk-a", "enroll", enroll_params("E300", face))["person_id"]
    until(lambda: b.gallery() == 1, 5.0)
    with a.store() as store:                              # what `kiosk consent withdraw --scope fleet` does
        store.withdraw_fleet_consent("E300", actor="cli:test")
    seconds = until(lambda: b.gallery() == 0, 15.0)       # A's reconciliation (every 10 s) publishes a tombstone
    print(f"\nfleet consent withdrawn on A, erased on B after {seconds:.2f} s")
    with b.store() as store:
        assert store.person_by_id(person_id).deleted and store.templates(person_id) == []
    assert matches(a, face) == person_id and a.gallery() == 1         # A keeps the person
    retained = Recorder(broker.port, [f"kiosk/fleet/persons/{person_id}"], persistent=False)
    assert retained.wait_for(lambda ms: len(ms) >= 1, 5)
    record = FleetCipher((a.state / "keys" / "fleet.key").read_bytes()).open(person_id, retained.messages[-1].payload)
    retained.close()
    assert record["deleted"] is True and record["version"]["device"] == "kiosk-a"


def retained_record(port: int, topic: str, person_id: str, key: bytes, predicate, timeout: float = 15.0) -> dict:
    """The first retained (or live) record on `topic` that satisfies `predicate`, within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        reader = Recorder(port, [topic], persistent=False)
        reader.wait_for(lambda ms: bool(ms), 1.0)
        found = [FleetCipher(key).open(person_id, m.payload) for m in reader.messages if m.payload]
        reader.close()
        if found and predicate(found[-1]):
            return found[-1]
        assert time.monotonic() < deadline, f"no matching record on {topic}: {found[-1:]}"
        time.sleep(0.2)


def wait_online(port: int, kiosk: Kiosk) -> None:
    """Until the kiosk's retained status says online (published after its subscriptions, on the same connection)."""
    status = Recorder(port, [f"kiosk/{kiosk.device}/status"], persistent=False)
    try:
        assert status.wait_for(lambda ms: any(m.payload and json.loads(m.payload)["state"] == "online" for m in ms),
                               20)
    finally:
        status.close()


def test_a_replayed_pre_erasure_record_does_not_bring_the_person_back(tmp_path: Path, broker: Mosquitto) -> None:
    operator = Ed25519PrivateKey.generate()
    a, b, c = provision(tmp_path, broker.port, operator, ("kiosk-a", "kiosk-b", "kiosk-c"))
    sender = Recorder(broker.port, ["kiosk/+/cmd/+/result"], persistent=False)
    key = (a.state / "keys" / "fleet.key").read_bytes()
    try:
        a.start()
        wait_online(broker.port, a)
        face = np.random.default_rng(17).normal(size=128).astype(np.float32) * 0.05
        person_id = command(sender, operator, "kiosk-a", "enroll", enroll_params("E400", face))["person_id"]
        topic = f"kiosk/fleet/persons/{person_id}"
        capture = Recorder(broker.port, [topic], persistent=False)             # the attacker records the person...
        assert capture.wait_for(lambda ms: any(m.payload for m in ms), 10)
        captured = next(m.payload for m in capture.messages if m.payload)
        capture.close()
        command(sender, operator, "kiosk-a", "delete_person", {"person_id": person_id, "reason": "left"})
        retained_record(broker.port, f"kiosk/fleet/tombstones/{person_id}", person_id, key, lambda r: r["deleted"])
        a.stop()                                                               # ...waits until no kiosk is online...
        sender.publish(topic, captured, retain=True)                          # ...and replays the record retained
        c.start()                                                              # a kiosk that never saw the person
        record = retained_record(broker.port, topic, person_id, key, lambda r: r["deleted"])   # C put the erasure back
        assert record["version"]["device"] == "kiosk-a"
        with c.store() as store:
            assert store.person_by_id(person_id).deleted and store.templates(person_id) == []
            applied = [r["outcome"] for r in store.audit_records()
                       if r["action"] == "fleet_apply" and r.get("person_id") == person_id]
        assert applied == ["erased"]                                           # never applied the live record
        assert matches(c, face) is None and c.gallery() in (None, 0)
    finally:
        sender.close()
        for kiosk in (a, b, c):
            kiosk.stop()


def test_a_cleared_retained_tombstone_is_put_back(fleet, broker: Mosquitto) -> None:
    a, b, sender, operator = fleet
    face = np.random.default_rng(19).normal(size=128).astype(np.float32) * 0.05
    person_id = command(sender, operator, "kiosk-a", "enroll", enroll_params("E500", face))["person_id"]
    until(lambda: b.gallery() == 1, 5.0)
    command(sender, operator, "kiosk-a", "delete_person", {"person_id": person_id, "reason": "left"})
    until(lambda: b.gallery() == 0, 5.0)
    key = (a.state / "keys" / "fleet.key").read_bytes()
    for topic in (f"kiosk/fleet/tombstones/{person_id}", f"kiosk/fleet/persons/{person_id}"):
        retained_record(broker.port, topic, person_id, key, lambda r: r["deleted"])
        sender.publish(topic, b"", retain=True)                               # the attacker clears the erasure
        record = retained_record(broker.port, topic, person_id, key, lambda r: r["deleted"])
        assert record["version"]["device"] == "kiosk-a"
