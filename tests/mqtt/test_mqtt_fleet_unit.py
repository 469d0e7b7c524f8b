"""Fleet transport without a broker: sealing, and the convergence rule, against a contract-following fake store."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from kiosk.mqtt.durable import DurableQueue
from kiosk.mqtt.fleet import FleetCipher, FleetError, FleetSync
from kiosk.mqtt.topics import Topics

KEY = bytes(range(32))


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


def run_fleet(tmp_path: Path, store: FakeStore, messages: list[tuple[str, bytes]]) -> tuple[FleetSync, list[bytes]]:
    async def main() -> tuple[FleetSync, list[bytes]]:
        queue = DurableQueue(tmp_path / "outbox.db", 1000)
        await queue.open()
        topics = Topics("kiosk", "a", "kiosk/fleet")

        async def in_store(fn, *args):
            return fn(*args)
        fleet = FleetSync(store, FleetCipher(KEY), topics, queue, in_store)
        worker = asyncio.create_task(fleet.run_incoming())
        for topic, payload in messages:
            fleet.received(topic, payload)
        while not fleet._incoming.empty():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        worker.cancel()
        rows = await queue.read_after(0, 100)
        await queue.close()
        return fleet, [r.payload for r in rows]
    return asyncio.run(main())


def test_newer_records_apply_older_ones_trigger_a_republish(tmp_path: Path) -> None:
    pid, other = uuid.uuid4().hex, uuid.uuid4().hex
    store = FakeStore()
    store.records[pid] = record(pid, 5, "a")
    cipher = FleetCipher(KEY)
    fleet, published = run_fleet(tmp_path, store, [
        (f"kiosk/fleet/persons/{other}", cipher.seal(record(other, 2, "b"))),     # new person: applied
        (f"kiosk/fleet/persons/{pid}", cipher.seal(record(pid, 3, "b"))),         # older than ours: republish ours
        (f"kiosk/fleet/persons/{pid}", cipher.seal(record(pid, 5, "a"))),         # our own version back: nothing
        (f"kiosk/fleet/persons/{other}", b""),                                     # a cleared retained topic
        (f"kiosk/fleet/persons/{other}", b"garbage"),                              # counted and ignored
    ])
    assert store.records[other]["version"] == {"counter": 2, "device": "b"}
    assert fleet.applied == 1 and fleet.ignored == 2 and fleet.errors == 1 and not fleet.alarms
    assert len(published) == 1 and cipher.open(pid, published[0])["version"] == {"counter": 5, "device": "a"}


def test_a_record_under_another_fleet_key_raises_an_alarm(tmp_path: Path) -> None:
    pid = uuid.uuid4().hex
    foreign = FleetCipher(bytes(32)).seal(record(pid, 9, "z"))
    fleet, _ = run_fleet(tmp_path, FakeStore(), [(f"kiosk/fleet/persons/{pid}", foreign)])
    assert fleet.alarms == {"fleet_undecryptable"} and fleet.errors == 1 and fleet.applied == 0


def test_tombstone_wins_and_ties_break_on_device_id(tmp_path: Path) -> None:
    pid = uuid.uuid4().hex
    store = FakeStore()
    store.records[pid] = record(pid, 4, "a")
    cipher = FleetCipher(KEY)
    run_fleet(tmp_path, store, [(f"kiosk/fleet/persons/{pid}", cipher.seal(record(pid, 4, "b", deleted=True)))])
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
        fleet = FleetSync(store, FleetCipher(KEY), Topics("kiosk", "a", "kiosk/fleet"), queue, in_store)
        assert await fleet.republish_all() == 2
        rows = await queue.read_after(0, 100)
        await queue.close()
        return [r.topic for r in rows]
    topics = asyncio.run(main())
    assert topics == [f"kiosk/fleet/persons/{shared}", f"kiosk/fleet/persons/{erased}"]
