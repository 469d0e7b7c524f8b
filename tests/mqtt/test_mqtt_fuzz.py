"""Acceptance: 1,000 malformed or unsigned commands through a real broker: no crash, each one refused and counted
in the store's audit ledger (in summary records, whose hash chain stays intact), answered within each sender's
reply budget; a valid command afterwards is executed, answered and audited on its own."""
from __future__ import annotations

import asyncio
import base64
import json
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_support import Mosquitto, Recorder, kiosk_config, make_keys, until

from kiosk.mqtt import MqttService, audit_to_store
from kiosk.mqtt.signing import new_envelope, sign_envelope
from kiosk.store.store import Store

pytestmark = pytest.mark.broker
COUNT = 1000
COMMANDS = ["open_gate", "enroll", "delete_person", "sync", "reload_config", "selftest"]


def fuzzed(rng: random.Random, trusted: Ed25519PrivateKey, stranger: Ed25519PrivateKey) -> tuple[str, bytes]:
    """(command name on the topic, payload): never a valid, correctly signed, fresh command."""
    name = rng.choice(COMMANDS)
    good = new_envelope(name, "kiosk-1", {} if name in ("sync", "reload_config", "selftest") else {"reason": "x"})
    kind = rng.randrange(14)
    if kind == 0:
        return name, bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
    if kind == 1:
        return name, json.dumps(rng.choice([None, 1, "open", [], [1, {"a": 2}], 3.5, True])).encode()
    if kind == 2:
        return name, json.dumps(good).encode()                                         # unsigned
    if kind == 3:
        return name, json.dumps(sign_envelope(good, stranger)).encode()                 # untrusted key
    if kind == 4:
        signed = sign_envelope(good, trusted)
        signed["params"] = {"duration_s": 60} if name == "open_gate" else {"x": 1}      # altered after signing
        return name, json.dumps(signed).encode()
    if kind == 5:
        signed = sign_envelope(good, trusted)
        raw = bytearray(base64.b64decode(signed["signature"]["value"]))
        raw[rng.randrange(64)] ^= 1 << rng.randrange(8)
        signed["signature"]["value"] = base64.b64encode(bytes(raw)).decode()
        return name, json.dumps(signed).encode()
    if kind == 6:
        good["issued_at"] = (datetime.now(UTC) - timedelta(hours=rng.randrange(1, 48))).isoformat()
        return name, json.dumps(sign_envelope(good, trusted)).encode()                 # stale
    if kind == 7:
        good["device_id"] = "kiosk-" + str(rng.randrange(2, 99))
        return name, json.dumps(sign_envelope(good, trusted)).encode()                 # another device's
    if kind == 8:
        key = rng.choice(list(good))
        del good[key]
        return name, json.dumps(good).encode()                                         # a field missing
    if kind == 9:
        key = rng.choice(list(good))
        good[key] = rng.choice([None, 12, [], {"deep": {"er": 1}}] + ([] if key == "params" else [{}]))
        return name, json.dumps(sign_envelope(good, trusted)).encode()                 # a field of the wrong type
    if kind == 10:
        other = rng.choice([c for c in COMMANDS if c != name])
        return other, json.dumps(sign_envelope(good, trusted)).encode()                # topic says otherwise
    if kind == 11:
        alphabet = string.ascii_letters + string.digits + "_-.é漢"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))), json.dumps(good).encode()
    if kind == 12:
        return name, ("[" * rng.randrange(100, 5000)).encode()                         # nesting bomb
    signed = sign_envelope(good, trusted)
    signed["signature"] = rng.choice([{"alg": "RS256", "key_id": signed["signature"]["key_id"], "value": "x" * 88},
                                      {"alg": "Ed25519", "key_id": "zz", "value": signed["signature"]["value"]},
                                      {"alg": "Ed25519"}, "signed!", None])
    return name, json.dumps(signed).encode()                                           # malformed signature


def test_a_thousand_bad_commands_are_each_refused_counted_and_audited(tmp_path: Path, broker: Mosquitto) -> None:
    keys = make_keys(tmp_path)
    trusted, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (keys / "trusted" / "ops.pem").write_bytes(trusted.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    rng = random.Random(20261128)
    requests = [fuzzed(rng, trusted, stranger) for _ in range(COUNT - 1)]
    # One more: a valid command left retained on the broker would replay on every reconnect; the device sees
    # it flagged 'retained' when it subscribes, and refuses it.
    sender_setup = Recorder(broker.port, ["unused"], persistent=False)
    stale_retained = sign_envelope(new_envelope("open_gate", "kiosk-1", {"reason": "left behind"}), trusted)
    sender_setup.publish("kiosk/kiosk-1/cmd/open_gate", json.dumps(stale_retained).encode(), 1, True)
    sender_setup.close()
    sender = Recorder(broker.port, ["kiosk/kiosk-1/cmd/+/result"], persistent=False)
    config = kiosk_config(tmp_path, broker.port)
    store = Store.open(config)
    opened: list[Any] = []

    async def open_gate(params: dict[str, Any]) -> dict[str, Any]:
        opened.append(params)
        return {"opened": True}

    async def main() -> MqttService:
        service = MqttService(config, store, audit=audit_to_store(store))
        service.commands.register("open_gate", open_gate)
        await service.start()
        assert await asyncio.to_thread(sender.wait_for, lambda ms: len(ms) >= 1, 10)   # the retained one
        processor = service.processor
        assert processor is not None
        for start in range(0, len(requests), 100):     # windows of 100, below the 256-request queue bound
            for name, payload in requests[start:start + 100]:
                sender.client.publish(f"kiosk/kiosk-1/cmd/{name}", payload, qos=1)
            done = 1 + min(start + 100, len(requests))
            assert await until(lambda n=done: processor.refused >= n, 30), processor.refused
        # still alive: a correct command works afterwards (and is answered after every earlier answer)
        valid = sign_envelope(new_envelope("open_gate", "kiosk-1", {"reason": "after fuzz"}), trusted)
        await asyncio.to_thread(sender.publish, "kiosk/kiosk-1/cmd/open_gate", json.dumps(valid).encode())
        assert await asyncio.to_thread(sender.wait_for, lambda ms: b'"ok": true' in ms[-1].payload, 10)
        assert service.connected and all(not t.done() for t in service._tasks)
        await service.stop()
        return service
    try:
        service = asyncio.run(asyncio.wait_for(main(), 120))
        results = [json.loads(m.payload) for m in sender.messages if m.payload]
        audit = [r for r in store.audit_records() if r["action"] == "command"]
        verdict = store.verify_audit()
    finally:
        sender.close()
        store.close()
    bad, last = results[:-1], results[-1]
    assert bad[0]["error"]["code"] == "retained" and bad[0]["request_id"] == stale_retained["request_id"]
    assert all(r["ok"] is False and r["error"]["code"] for r in bad)
    assert last["ok"] is True and opened == [{"reason": "after fuzz"}]
    assert service.processor is not None and service.processor.refused == COUNT and service.processor.accepted == 1
    executed = [r for r in audit if r["outcome"] == "executed"]
    summaries = [json.loads(r["detail"]) for r in audit if r["outcome"] == "refused_summary"]
    assert len(executed) == 1 and len(audit) == 1 + len(summaries) and 1 <= len(summaries) <= 3
    assert sum(s["refused"] for s in summaries) == COUNT == sum(c["count"] for s in summaries for c in s["counts"])
    assert sum(s["answered"] for s in summaries) == len(bad) < COUNT      # answered within each sender's budget
    codes = {c["code"] for s in summaries for c in s["counts"]}
    assert {"bad_json", "bad_request", "unauthorised", "stale", "wrong_device", "unknown_command",
            "retained"} <= codes, codes
    assert verdict.ok, verdict.line()

