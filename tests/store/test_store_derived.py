"""Derived files rebuilt from the signed event log instead of stopping the kiosk: a damaged MQTT outbox
(a real SQLite file with garbage written over a page; the new one is refilled by the reconciler) and a
damaged attendance ledger."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.access.attendance import LEDGER_FILE, Attendance, LedgerDamaged, open_ledger
from kiosk.config import KioskConfig
from kiosk.mqtt.durable import DurableQueue
from kiosk.mqtt.outbox import Message, Outbox, OutboxDamaged
from kiosk.mqtt.reconcile import EventReconciler
from kiosk.mqtt.topics import Topics
from kiosk.store import events as eventlog

PAGE = 4096
PERSON = {"person_id": "ab" * 16, "employee_no": "E1", "name": "Ann Example", "role": "staff"}


def _event(kind: str, at: datetime, **changes) -> dict:
    event = {"type": kind, "event_id": uuid.uuid4().hex, "device_id": "kiosk-1",
             "device_time": at.isoformat(timespec="milliseconds"), "person": PERSON, "temperature": None,
             "liveness": None, "mask": None, "decision": None, "attendance": None, "match": None, "detail": None}
    event.update(changes)
    return event


def _corrupt_middle(path: Path) -> None:
    pages = path.stat().st_size // PAGE
    with open(path, "r+b") as db:
        db.seek(pages // 2 * PAGE)
        db.write(os.urandom(PAGE))


def _damaged_outbox(path: Path) -> None:
    box = Outbox(path)
    box.add([Message("kiosk/kiosk-1/events/x", b"y" * 400, 1, False, "event", str(i), 0.0) for i in range(400)])
    box.close()
    _corrupt_middle(path)
    with pytest.raises(OutboxDamaged):
        Outbox(path)


async def until(condition, guard_s: float) -> bool:
    """Waits for `condition` on the loop (a guard, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + guard_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _in_store(fn, *args):
    return fn(*args)     # the store fixture belongs to this (the loop's) thread


async def _rebuilt_outbox(path: Path, store) -> DurableQueue:
    """What MqttService does with a store: a log-backed queue, filled by the reconciler."""
    queue = DurableQueue(path, 1000, log_backed=True)
    await queue.open()
    await EventReconciler(queue, store, _in_store, Topics("kiosk", "kiosk-1", "kiosk/fleet")).catch_up()
    return queue


def test_a_damaged_outbox_is_set_aside_and_refilled_from_signed_events(tmp_path, store, caplog):
    now = datetime.now(UTC)
    store.record_event(_event("access_granted", now - timedelta(days=8)))        # older than the rebuild window
    recent = [store.record_event(_event("access_granted", now - timedelta(hours=h))) for h in (30, 2, 1)]
    forged = _event("access_granted", now, signature={"alg": "Ed25519", "key_id": store.signer.key_id, "value": "AAAA"})
    with store._db.write() as db:                                                 # written past the store's checks
        eventlog.insert(db, forged)
    path = tmp_path / "state" / "outbox.db"
    path.parent.mkdir()
    _damaged_outbox(path)

    async def main() -> tuple[bool, list]:
        queue = await _rebuilt_outbox(path, store)
        rows = await queue.read_after(0, 100)
        await queue.close()
        return queue.rebuilt, rows

    with caplog.at_level(logging.WARNING):
        rebuilt, rows = asyncio.run(main())
    assert rebuilt
    assert [row.topic for row in rows] == ["kiosk/kiosk-1/events/access_granted"] * 3
    assert [row.payload for row in rows] == [
        json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() for e in recent]
    aside = [p.name for p in path.parent.iterdir() if p.name.startswith("outbox.db.damaged-")]
    assert len(aside) == 1, aside
    assert any("set aside as outbox.db.damaged-" in r.getMessage() for r in caplog.records)
    assert any("1 events (seq 5..5)" in r.getMessage() and "fail their signature check" in r.getMessage()
               for r in caplog.records)


def test_without_a_log_behind_it_a_damaged_outbox_still_raises(tmp_path):
    path = tmp_path / "outbox.db"
    _damaged_outbox(path)

    async def main() -> None:
        await DurableQueue(path, 1000).open()

    with pytest.raises(OutboxDamaged, match="outbox.db: damaged"):
        asyncio.run(main())


def test_garbage_instead_of_an_outbox_is_rebuilt(tmp_path, store):
    path = tmp_path / "outbox.db"
    path.write_bytes(os.urandom(3 * PAGE))
    store.record_event(_event("access_denied", datetime.now(UTC)))

    async def main() -> int:
        queue = await _rebuilt_outbox(path, store)
        await queue.close()
        return queue.depth

    assert asyncio.run(main()) == 1


@pytest.mark.parametrize("damage", ["garbage", "wrong types", "truncated"])
def test_a_damaged_attendance_ledger_is_rebuilt_from_the_signed_log(tmp_path, store, damage, caplog):
    config = KioskConfig.model_validate({"device": {"state_dir": str(tmp_path / "state"), "timezone": "UTC"},
                                         "attendance": {"mode": "first_last", "cooldown_s": 300}})
    now = datetime.now(UTC).replace(microsecond=0)
    store.record_event(_event("attendance", now - timedelta(minutes=3), attendance={"direction": "in"}))
    store.record_event(_event("access_granted", now - timedelta(minutes=3)))
    path = config.state_dir / LEDGER_FILE
    path.parent.mkdir()
    path.write_bytes({"garbage": os.urandom(64), "wrong types": b'{"last": {"p": "yesterday"}}',
                      "truncated": b'{"last": {"' + PERSON["person_id"].encode()}[damage])
    with pytest.raises(LedgerDamaged):
        Attendance(config, path)
    with caplog.at_level(logging.WARNING):
        ledger = open_ledger(config, store)
    assert any("ledger rebuilt from 1 attendance events" in r.getMessage() for r in caplog.records)
    assert [p.name.startswith("attendance.json.damaged-") for p in path.parent.iterdir()].count(True) == 1
    again = Attendance(config, path)                      # the rebuilt ledger was saved
    for attendance in (ledger, again):
        assert attendance._last == {PERSON["person_id"]: now - timedelta(minutes=3)}
        assert attendance._first_day == {PERSON["person_id"]: attendance.attendance_day(now - timedelta(minutes=3))}


def test_the_mqtt_service_rebuilds_a_damaged_outbox_from_its_store(tmp_path, store, keys_dir):
    """The wiring the daemon uses: MqttService(config, store) with a damaged outbox.db starts, refilled."""
    from kiosk.mqtt import MqttService

    config = KioskConfig.model_validate({"device": {"state_dir": str(tmp_path / "state"), "id": "kiosk-1"},
                                         "store": {"keys_dir": str(keys_dir)},
                                         "mqtt": {"enabled": True, "host": "127.0.0.1", "port": 1,
                                                  "fleet_sync": False, "allow_insecure_commands": True}})
    config.state_dir.mkdir()
    store.record_event(_event("access_granted", datetime.now(UTC)))
    _damaged_outbox(config.state_dir / "outbox.db")

    async def main() -> tuple[bool, int, object]:
        service = MqttService(config, store)
        await service.start()
        try:
            await until(lambda: not service.reconciler.behind, 10)
            return service.queue.rebuilt, service.queue.depth, service.processor.issued_after
        finally:
            await service.stop(timeout=0.2)

    rebuilt, depth, issued_after = asyncio.run(main())
    assert rebuilt and depth == 1 and issued_after is not None
