"""The decision path cannot kill the daemon: a verdict's events are built before the gate moves, and an
exception while deciding is logged, alarmed and leaves the gate locked; the next frame is decided."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from decision_helpers import DecisionRig, OneVerdict, RecordingStore, until
from gate_helpers import AT, LIVE, STAFF, config, match, reading

from kiosk.access.attendance import Attendance
from kiosk.access.policy import Observation, decide
from kiosk.access.tracker import Verdict
from kiosk.recognition.recognizer import FrameResult
from kiosk.service.health import HealthMonitor
from kiosk.service.stages.event_writer import EventWriter
from kiosk.store import RecordError


class BrokenAttendance:
    def events_for(self, *_args: Any) -> list[dict[str, Any]]:
        raise ZoneInfoNotFoundError("No time zone found with key Europe/Berln")


def test_an_error_building_the_events_leaves_the_gate_locked_and_is_alarmed(tmp_path: Path, caplog) -> None:
    cfg = config()
    obs = Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(36.6),))
    decision = decide(obs, cfg)
    assert decision.granted
    store = RecordingStore()
    rig = DecisionRig(cfg, store, OneVerdict(Verdict(7, decision, obs)), BrokenAttendance())
    gate, stage, health = rig.gate, rig.stage, rig.health

    async def scenario() -> None:
        writer, task = rig.start()
        await stage.results.put(FrameResult(1.0, []))
        await until(lambda: health.counters.get("decision_errors") or task.done())
        assert not task.done()
        assert gate.calls == ["lock"] and rig.writer.qsize() == 0 and not store.recorded
        assert health.report()["alarms"]["decision"] == ("ZoneInfoNotFoundError: 'No time zone found with "
                                                         "key Europe/Berln'")
        # The loop goes on: once the events can be built, the next verdict opens the gate and clears the alarm.
        stage.attendance = Attendance(cfg, tmp_path / "ledger.json")
        await stage.results.put(FrameResult(2.0, []))
        await until(lambda: "grant" in gate.calls)
        assert "decision" not in health.alarms
        kind, attempt = store.recorded[0]          # recorded (with its match audit) before the gate opened
        assert kind == "access_granted" and attempt.granted and attempt.model_id == "test-model"
        task.cancel()
        writer.cancel()

    rig.run(scenario())
    assert "decision failed; gate locked" in caplog.text


class RefusingStore:
    """A store whose event log refuses one event as malformed and records the others."""

    def __init__(self, refuse: str) -> None:
        self.refuse, self.recorded = refuse, []

    def record_event(self, event: dict[str, Any], match: Any = None) -> dict[str, Any]:
        if event["event_id"] == self.refuse:
            raise RecordError("event field 'detail.embedding' would carry face data")
        self.recorded.append(event["event_id"])
        return {**event, "signature": {}}


def test_a_malformed_event_is_refused_alarmed_and_does_not_hold_back_the_next(caplog) -> None:
    store, health, store_thread = RefusingStore("bad"), HealthMonitor(30.0), ThreadPoolExecutor(1)
    writer = EventWriter(store, store_thread, health)

    async def scenario() -> None:
        task = asyncio.create_task(writer.run())
        recorded = [writer.submit({"type": "access_granted", "event_id": event_id}) for event_id in ("bad", "good")]
        await until(lambda: store.recorded == ["good"] or task.done())
        assert not task.done()
        assert [await r for r in recorded] == [False, True]
        assert health.counters["events_refused"] == 1 and health.counters["events"] == 1
        assert "face data" in health.alarms["event_refused"]
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        store_thread.shutdown()
    assert "event refused by the event log" in caplog.text
