"""Fleet transport without a broker: sealing, signatures, repairs and the convergence rule, against a
contract-following fake store."""
from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.mqtt.durable import DurableQueue
from kiosk.mqtt.fleet import GOOD_TO_CLEAR, FleetCipher, FleetError, FleetSync
from kiosk.mqtt.fleet_signing import FleetSigning
from kiosk.mqtt.topics import Topics
from kiosk.store import canon
from kiosk.store.keys import key_id

KEY = bytes(range(32))
OWN = Ed25519PrivateKey.generate()       # this kiosk's device key
PEER = Ed25519PrivateKey.generate()      # another kiosk, pinned in the device keys dir
STRANGER = Ed25519PrivateKey.generate()  # pinned nowhere
CIPHER = FleetCipher(KEY)


def seal(rec: dict[str, Any], key: Ed25519PrivateKey = PEER) -> bytes:
    """A record as a pinned (or, with `key`, any) kiosk publishes it."""
    return CIPHER.seal(FleetSigning(key, Path("/nonexistent")).sign(rec))


def person_topic(pid: str) -> str:
    return f"kiosk/fleet/persons/{pid}"


def tombstone_topic(pid: str) -> str:
    return f"kiosk/fleet/tombstones/{pid}"


def signing(tmp_path: Path) -> FleetSigning:
    pinned = tmp_path / "devices"
    pinned.mkdir(exist_ok=True)
    (pinned / "b.pub").write_bytes(PEER.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    return FleetSigning(OWN, pinned)


def record(person_id: str, counter: int, device: str, *, deleted: bool = False, scope=("fleet",)) -> dict[str, Any]:
    if deleted:
        return {"person_id": person_id, "version": {"counter": counter, "device": device}, "deleted": True,
                "person": None, "consent": None, "templates": []}
    return {"person_id": person_id, "version": {"counter": counter, "device": device}, "deleted": False,
            "person": {"employee_no": "E1", "name": f"v{counter}", "role": "staff", "valid_from": None,
                       "valid_to": None, "schedule": None, "status": "active"},
            "consent": {"consent_id": "c", "given_by": "x", "given_at": "2026-01-01T00:00:00+00:00",
                        "notice_version": "v1", "method": "kiosk", "guardian": None, "scope": list(scope)},
            "templates": [{"model_id": "m", "embedding_b64": "AACAPw==", "quality": 1.0,
                           "created": "2026-01-01T00:00:00+00:00"}]}


class FakeStore:
    """docs/contracts.md section 2, store side: greater (counter, device) wins; non-fleet persons export as None."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def export_person_record(self, person_id: str) -> Optional[dict[str, Any]]:
        rec = self.records[person_id]
        if not rec["deleted"] and "fleet" not in rec["consent"]["scope"]:
            return None
        return json.loads(json.dumps(rec))

    def apply_person_record(self, rec: dict[str, Any]) -> bool:
        local = self.records.get(rec["person_id"])
        key = (rec["version"]["counter"], rec["version"]["device"])
        if local is not None and (local["version"]["counter"], local["version"]["device"]) >= key:
            return False
        self.records[rec["person_id"]] = rec
        return True

    def all_person_records(self) -> Iterator[dict[str, Any]]:
        for person_id in list(self.records):
            rec = self.export_person_record(person_id)
            if rec is not None:
                yield rec


def test_seal_and_open_round_trip_and_refusals() -> None:
    pid = uuid.uuid4().hex
    cipher = FleetCipher(KEY)
    sealed = cipher.seal(record(pid, 1, "a"))
    assert cipher.open(pid, sealed) == record(pid, 1, "a")
    assert b"employee_no" not in sealed and b"AACAPw==" not in sealed   # nothing readable on the wire
    with pytest.raises(FleetError, match="cannot decrypt"):
        FleetCipher(bytes(32)).open(pid, sealed)                  # another site's key
    with pytest.raises(FleetError, match="cannot decrypt"):
        cipher.open(uuid.uuid4().hex, sealed)                     # moved under another person's topic
    envelope = json.loads(sealed)
    envelope["ciphertext"] = envelope["ciphertext"][:-4] + "AAAA"
    with pytest.raises(FleetError, match="cannot decrypt"):
        cipher.open(pid, json.dumps(envelope).encode())
    with pytest.raises(FleetError, match="not JSON"):
        cipher.open(pid, b"\x00\x01")
    with pytest.raises(FleetError, match="envelope"):
        cipher.open(pid, b'{"v": 2}')


def run_fleet(tmp_path: Path, store: FakeStore, messages: list[tuple[str, bytes]],
              alarms: Optional[list[frozenset[str]]] = None) -> tuple[FleetSync, list[tuple[str, bytes]]]:
    """Feed `messages` to a FleetSync; returns it and what it queued for publication, as (topic, payload)."""
    async def main() -> tuple[FleetSync, list[tuple[str, bytes]]]:
        queue = DurableQueue(tmp_path / "outbox.db", 1000)
        await queue.open()
        topics = Topics("kiosk", "a", "kiosk/fleet")

        async def in_store(fn, *args):
            return fn(*args)
        fleet = FleetSync(store, CIPHER, signing(tmp_path), topics, queue, in_store,
                          on_alarm=lambda: alarms.append(frozenset(fleet.alarms)) if alarms is not None else None)
        worker = asyncio.create_task(fleet.run_incoming())
        for topic, payload in messages:
            fleet.received(topic, payload)
        while not fleet._incoming.empty():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        worker.cancel()
        rows = await queue.read_after(0, 100)
        await queue.close()
        return fleet, [(r.topic, r.payload) for r in rows]
    return asyncio.run(main())


def test_newer_records_apply_older_ones_trigger_a_republish(tmp_path: Path) -> None:
    pid, other = uuid.uuid4().hex, uuid.uuid4().hex
    store = FakeStore()
    store.records[pid] = record(pid, 5, "a")
    fleet, published = run_fleet(tmp_path, store, [
        (person_topic(other), seal(record(other, 2, "b"))),         # new person: applied
        (person_topic(pid), seal(record(pid, 3, "b"))),             # older than ours: republish ours
        (person_topic(pid), seal(record(pid, 5, "a"), OWN)),        # our own version back: nothing
    ])
    assert store.records[other]["version"] == {"counter": 2, "device": "b"}
    assert fleet.applied == 1 and fleet.ignored == 2 and fleet.errors == 0 and not fleet.alarms
    assert [topic for topic, _ in published] == [person_topic(pid)]
    mine = CIPHER.open(pid, published[0][1])
    assert mine["version"] == {"counter": 5, "device": "a"}
    assert FleetSigning(OWN, tmp_path / "none").verify(mine)   # signed by this kiosk


def test_a_record_under_another_fleet_key_raises_an_alarm(tmp_path: Path) -> None:
    pid = uuid.uuid4().hex
    foreign = FleetCipher(bytes(32)).seal(FleetSigning(PEER, tmp_path).sign(record(pid, 9, "z")))
    fleet, _ = run_fleet(tmp_path, FakeStore(), [(person_topic(pid), foreign)])
    assert fleet.alarms == {"fleet_undecryptable"} and fleet.errors == 1 and fleet.applied == 0


def test_tombstone_wins_and_ties_break_on_device_id(tmp_path: Path) -> None:
    pid = uuid.uuid4().hex
    store = FakeStore()
    store.records[pid] = record(pid, 4, "a")
    run_fleet(tmp_path, store, [(person_topic(pid), seal(record(pid, 4, "b", deleted=True)))])
    assert store.records[pid]["deleted"] and store.records[pid]["templates"] == []


def test_sync_republishes_only_fleet_consented_persons(tmp_path: Path) -> None:
    shared, private, erased = (uuid.uuid4().hex for _ in range(3))
    store = FakeStore()
    store.records = {shared: record(shared, 1, "a"), private: record(private, 2, "a", scope=("recognition",)),
                     erased: record(erased, 3, "a", deleted=True)}

    async def main() -> list[str]:
        queue = DurableQueue(tmp_path / "outbox.db", 1000)
        await queue.open()

        async def in_store(fn, *args):
            return fn(*args)
        fleet = FleetSync(store, CIPHER, signing(tmp_path), Topics("kiosk", "a", "kiosk/fleet"), queue, in_store)
        assert await fleet.republish_all() == 2
        rows = await queue.read_after(0, 100)
        await queue.close()
        return [r.topic for r in rows]
    topics = asyncio.run(main())
    assert topics == [person_topic(shared), person_topic(erased), tombstone_topic(erased)]


def test_unsigned_foreign_and_unbounded_records_are_refused_and_counted(tmp_path: Path) -> None:
    pid = uuid.uuid4().hex
    store = FakeStore()
    forged = record(pid, 2 ** 63 - 1, "b")   # RFC 8785 cannot carry it: signed in the legacy form verifiers accept
    forged["signature"] = {"alg": "Ed25519", "key_id": key_id(PEER.public_key()),
                           "value": base64.b64encode(PEER.sign(canon.legacy(forged))).decode()}
    fleet, published = run_fleet(tmp_path, store, [
        (person_topic(pid), CIPHER.seal(record(pid, 3, "b"))),        # fleet key, no signature
        (person_topic(pid), seal(record(pid, 3, "b"), STRANGER)),     # signed by a key nobody pinned
        (person_topic(pid), CIPHER.seal(forged)),                     # a pinned kiosk, beyond the version bound
    ])
    assert pid not in store.records and fleet.applied == 0 and fleet.errors == 3
    assert fleet.alarms == {"fleet_bad_records"} and published == []
    signed = FleetSigning(PEER, tmp_path).sign(record(pid, 3, "b"))
    signed["person"]["name"] = "altered"
    fleet, _ = run_fleet(tmp_path, store, [(person_topic(pid), CIPHER.seal(signed))])
    assert pid not in store.records and fleet.errors == 1


def test_the_alarm_clears_when_good_records_flow_again(tmp_path: Path) -> None:
    pids = [uuid.uuid4().hex for _ in range(GOOD_TO_CLEAR)]
    changes: list[frozenset[str]] = []
    fleet, _ = run_fleet(tmp_path, FakeStore(), [
        (person_topic(pids[0]), b"garbage"),
        (person_topic(pids[0]), FleetCipher(bytes(32)).seal(record(pids[0], 1, "b"))),
        *[(person_topic(pid), seal(record(pid, 1, "b"))) for pid in pids],
    ], alarms=changes)
    assert changes == [frozenset({"fleet_bad_records"}), frozenset({"fleet_bad_records", "fleet_undecryptable"}),
                       frozenset()]
    assert not fleet.alarms and fleet.applied == GOOD_TO_CLEAR and fleet.errors == 2


def test_a_cleared_or_spoiled_retained_copy_is_republished(tmp_path: Path) -> None:
    live, erased = uuid.uuid4().hex, uuid.uuid4().hex
    store = FakeStore()
    store.records = {live: record(live, 4, "a"), erased: record(erased, 6, "a", deleted=True)}
    fleet, published = run_fleet(tmp_path, store, [
        (person_topic(live), b""),                                   # cleared: republish the record
        (tombstone_topic(live), b""),                                # no tombstone here: nothing to put back
        (tombstone_topic(erased), b""),                              # cleared tombstone: back on both topics
        (person_topic(erased), b"garbage"),                          # replaced by garbage: the same
    ])
    assert [topic for topic, _ in published] == [person_topic(live), person_topic(erased), tombstone_topic(erased),
                                                 person_topic(erased), tombstone_topic(erased)]
    assert CIPHER.open(erased, published[-1][1])["deleted"] is True


def test_a_live_record_on_a_tombstone_topic_is_refused(tmp_path: Path) -> None:
    pid = uuid.uuid4().hex
    store = FakeStore()
    fleet, _ = run_fleet(tmp_path, store, [(tombstone_topic(pid), seal(record(pid, 1, "b")))])
    assert pid not in store.records and fleet.alarms == {"fleet_bad_records"}


def test_a_replay_older_than_a_learned_tombstone_is_not_applied(tmp_path: Path) -> None:
    pid = uuid.uuid4().hex
    store = FakeStore()
    before = seal(record(pid, 3, "b"))                               # captured before the erasure
    fleet, published = run_fleet(tmp_path, store, [
        (tombstone_topic(pid), seal(record(pid, 4, "b", deleted=True))),
        (person_topic(pid), before),
    ])
    assert store.records[pid]["deleted"] and fleet.applied == 1
    assert [topic for topic, _ in published] == [person_topic(pid), tombstone_topic(pid)]   # the erasure put back
