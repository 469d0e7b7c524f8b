"""A grant opens the gate only once its events are in the local event log (issue 14: fail secure): while
the log is slow the gate waits, while it fails (disk full, read-only) the gate stays locked and the alarm
says why; `gate.open_before_recorded` is the explicit, warned-about override."""
from __future__ import annotations

import asyncio
import threading
from typing import Any

from decision_helpers import DecisionRig, OneVerdict, RecordingStore, until
from gate_helpers import AT, LIVE, STAFF, config, match, reading

from kiosk.access.attendance import Attendance
from kiosk.access.policy import Observation, decide
from kiosk.access.tracker import Verdict
from kiosk.recognition.recognizer import FrameResult


class HeldStore(RecordingStore):
    """An event log whose commits wait until released (a slow SD card)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def record_event(self, event: dict[str, Any], match: Any = None) -> dict[str, Any]:
        assert self.release.wait(30), "never released"
        return super().record_event(event, match)


class FullDisk(RecordingStore):
    """An event log on a full disk: every commit fails until `space` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.space = threading.Event()
        self.attempts = 0

    def record_event(self, event: dict[str, Any], match: Any = None) -> dict[str, Any]:
        self.attempts += 1
        if not self.space.is_set():
            raise OSError(28, "No space left on device")
        return super().record_event(event, match)


def granting_rig(tmp_path, store: RecordingStore, **gate: Any) -> DecisionRig:
    cfg = config({"gate": gate})
    obs = Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(36.6),))
    decision = decide(obs, cfg)
    assert decision.granted
    return DecisionRig(cfg, store, OneVerdict(Verdict(7, decision, obs)), Attendance(cfg, tmp_path / "ledger.json"))


def test_the_gate_waits_for_the_grant_to_be_recorded(tmp_path) -> None:
    store = HeldStore()
    rig = granting_rig(tmp_path, store)

    async def scenario() -> None:
        tasks = rig.start()
        await rig.stage.results.put(FrameResult(1.0, []))
        await until(lambda: rig.health.counters.get("decisions_granted"))
        await asyncio.sleep(0.05)                 # the decision is made; the commit is held
        assert rig.gate.calls == [] and store.recorded == []
        store.release.set()
        await until(lambda: rig.gate.calls == ["grant"])
        assert [kind for kind, _ in store.recorded][0] == "access_granted"
        for task in tasks:
            task.cancel()

    rig.run(scenario())


def test_a_grant_that_cannot_be_recorded_keeps_the_gate_locked_and_is_recorded_later(tmp_path, caplog) -> None:
    store = FullDisk()
    rig = granting_rig(tmp_path, store, record_wait_s=0.2)

    async def scenario() -> None:
        tasks = rig.start()
        await rig.stage.results.put(FrameResult(1.0, []))
        await until(lambda: rig.health.counters.get("grants_withheld"))
        assert rig.gate.calls == []
        assert "No space left" in rig.health.alarms["event_log"]
        # While the alarm stands, the next grant is withheld at once, and its events say so.
        await rig.stage.results.put(FrameResult(2.0, []))
        await until(lambda: rig.health.counters.get("grants_withheld") == 2)
        store.space.set()                         # space again: every event, both grants', is recorded in order
        await until(lambda: rig.writer.qsize() == 0 and len(store.recorded) >= 2, 20)
        assert "event_log" not in rig.health.alarms
        assert rig.gate.calls == []                   # nobody was let in while nothing could be recorded
        for task in tasks:
            task.cancel()

    rig.run(scenario())
    assert "gate kept locked for a granted person" in caplog.text


def test_open_before_recorded_is_the_explicit_unsafe_override(tmp_path) -> None:
    store = HeldStore()
    rig = granting_rig(tmp_path, store, open_before_recorded=True)

    async def scenario() -> None:
        tasks = rig.start()
        await rig.stage.results.put(FrameResult(1.0, []))
        await until(lambda: rig.gate.calls == ["grant"])
        assert store.recorded == []               # opened before anything was committed
        store.release.set()
        await until(lambda: store.recorded)
        for task in tasks:
            task.cancel()

    rig.run(scenario())
