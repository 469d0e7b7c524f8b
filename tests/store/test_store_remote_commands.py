"""RemoteCommands in process, on the services they are given: a real Store and EventWriter in tmp_path, a gate
and an attendance ledger that record what they were asked to do."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from store_helpers import consent_record, unit

from kiosk.config import parse_config
from kiosk.service.health import HealthMonitor
from kiosk.service.remote import RemoteCommands
from kiosk.service.stages.event_writer import EventWriter
from kiosk.store import Store


class RecordingGate:
    def __init__(self) -> None:
        self.grants: list[Optional[float]] = []

    def grant(self, pulse_s: Optional[float] = None) -> None:
        self.grants.append(pulse_s)


class RecordingLedger:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def forget(self, person_id: str) -> None:
        self.forgotten.append(person_id)


def services(store: Store, thread: ThreadPoolExecutor, **gate: Any) -> SimpleNamespace:
    """The part of kiosk.service.services.Services these commands use."""
    health = HealthMonitor(30.0)
    return SimpleNamespace(config=parse_config({"gate": gate}, "test"), store=store, store_thread=thread,
                           health=health, writer=EventWriter(store, thread, health), gate=RecordingGate(),
                           attendance=RecordingLedger())


def test_open_gate_opens_once_its_event_is_recorded_and_events_since_returns_it(store: Store) -> None:
    with ThreadPoolExecutor(1) as thread:
        given = services(store, thread)
        remote = RemoteCommands(given)  # type: ignore[arg-type]

        async def scenario() -> dict[str, Any]:
            writer = asyncio.create_task(given.writer.run())
            answer = await remote.open_gate({"reason": "delivery", "duration_s": 5})
            assert given.gate.grants == [5]
            writer.cancel()
            return answer

        assert asyncio.run(scenario()) == {"opened": True, "duration_s": 5}
        page = asyncio.run(remote.events_since({"seq": 1}))
    (event,) = page["events"]
    assert event["type"] == "gate_opened" and event["detail"] == {
        "source": "remote_command", "reason": "delivery", "duration_s": 5}
    assert event["signature"]["canon"] == "jcs" and page["more"] is False


def test_open_gate_keeps_the_gate_locked_when_its_event_cannot_be_recorded(store: Store) -> None:
    from kiosk.mqtt import CommandFailed

    with ThreadPoolExecutor(1) as thread:
        given = services(store, thread, record_wait_s=0.1)     # the writer is not running: nothing is recorded
        with pytest.raises(CommandFailed, match="gate kept locked"):
            asyncio.run(RemoteCommands(given).open_gate({"reason": "x"}))  # type: ignore[arg-type]
    assert given.gate.grants == [] and store.events() == []


def test_delete_person_erases_them_and_forgets_their_attendance(store: Store, rng) -> None:
    from kiosk.mqtt import CommandFailed

    person = store.add_person(employee_no="E7", name="Ann", role="staff")
    store.enroll(person.person_id, list(unit(rng, 2)), model_id="m1", consent=consent_record())
    with ThreadPoolExecutor(1) as thread:
        given = services(store, thread)
        remote = RemoteCommands(given)  # type: ignore[arg-type]
        answer = asyncio.run(remote.delete_person({"employee_no": "E7", "reason": "left"}))
        assert answer == {"person_id": person.person_id, "erased": True}
        with pytest.raises(CommandFailed):                   # nobody of that number any more: one line, no crash
            asyncio.run(remote.delete_person({"employee_no": "E7"}))
    assert given.attendance.forgotten == [person.person_id]
    assert store.persons() == [] and len(store.load_templates("m1")[0]) == 0
