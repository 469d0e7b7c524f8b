"""The decision path cannot kill the daemon: a verdict's events are built before the gate moves, and an
exception while deciding is logged, alarmed and leaves the gate locked; the next frame is decided."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from gate_helpers import AT, LIVE, STAFF, config, match, reading

from kiosk.attendance import Attendance
from kiosk.daemon import Daemon
from kiosk.policy import Observation, decide
from kiosk.recognizer import FrameResult
from kiosk.store import RecordError
from kiosk.tracker import Step, Verdict


class RecordingGate:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def grant(self) -> None:
        self.calls.append("grant")

    def lock(self) -> None:
        self.calls.append("lock")


class OneVerdict:
    """A tracker that gives the same granted verdict for every frame."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    def update(self, *_args: Any) -> Step:
        return Step(self.verdict.track_id, verdict=self.verdict)


class Silent:
    def present(self, _step: Step) -> None:
        pass


class BrokenAttendance:
    def events_for(self, *_args: Any) -> list[dict[str, Any]]:
        raise ZoneInfoNotFoundError("No time zone found with key Europe/Berln")


def run_then_shut_down(daemon: Daemon, scenario: Any) -> None:
    """Runs an asyncio scenario against `daemon`, then stops its executors."""
    try:
        asyncio.run(scenario)
    finally:
        daemon.infer.shutdown()
        daemon.store_thread.shutdown()


async def until(condition: Callable[[], Any], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_an_error_building_the_events_leaves_the_gate_locked_and_is_alarmed(tmp_path: Path, caplog) -> None:
    cfg = config()
    obs = Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(36.6),))
    decision = decide(obs, cfg)
    assert decision.granted
    daemon = Daemon(cfg)
    gate = RecordingGate()
    daemon.gate, daemon.tracker, daemon.feedback = gate, OneVerdict(Verdict(7, decision, obs)), Silent()
    daemon.attendance, daemon._last_prompt = BrokenAttendance(), None

    async def scenario() -> None:
        task = asyncio.create_task(daemon._decisions())
        await daemon.results.put(FrameResult(1.0, []))
        await until(lambda: daemon.health.counters.get("decision_errors") or task.done())
        assert not task.done()
        assert gate.calls == ["lock"] and daemon.events.empty()
        assert daemon.health.report()["alarms"]["decision"] == ("ZoneInfoNotFoundError: 'No time zone found with "
                                                                "key Europe/Berln'")
        # The loop goes on: once the events can be built, the next verdict opens the gate and clears the alarm.
        daemon.attendance = Attendance(cfg, tmp_path / "ledger.json")
        await daemon.results.put(FrameResult(2.0, []))
        await until(lambda: "grant" in gate.calls)
        assert "decision" not in daemon.health.alarms
        assert daemon.events.get_nowait()["type"] == "access_granted"
        task.cancel()

    run_then_shut_down(daemon, scenario())
    assert "decision failed; gate locked" in caplog.text


class RefusingStore:
    """A store whose event log refuses one event as malformed and records the others."""

    def __init__(self, refuse: str) -> None:
        self.refuse, self.recorded = refuse, []

    def record_event(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["event_id"] == self.refuse:
            raise RecordError("event field 'detail.embedding' would carry face data")
        self.recorded.append(event["event_id"])
        return {**event, "signature": {}}


def test_a_malformed_event_is_refused_alarmed_and_does_not_hold_back_the_next(caplog) -> None:
    daemon = Daemon(config())
    daemon.store, daemon.mqtt = RefusingStore("bad"), None

    async def scenario() -> None:
        task = asyncio.create_task(daemon._event_writer())
        for event_id in ("bad", "good"):
            await daemon.events.put({"type": "access_granted", "event_id": event_id})
        await until(lambda: daemon.store.recorded == ["good"] or task.done())
        assert not task.done()
        assert daemon.health.counters["events_refused"] == 1 and daemon.health.counters["events"] == 1
        assert "face data" in daemon.health.alarms["event_refused"]
        task.cancel()

    run_then_shut_down(daemon, scenario())
    assert "event refused by the event log" in caplog.text
