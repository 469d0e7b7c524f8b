"""The decision stage in process, with fakes for everything it is given: what it shows, submits, audits and
grants for a frame, and what a shutdown does to a grant still waiting for its events."""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from decision_helpers import RecordingGate, until
from gate_helpers import AT, LIVE, STAFF, config, match, reading

from kiosk.access.attendance import Attendance
from kiosk.access.policy import Observation, decide
from kiosk.access.tracker import Step, Verdict
from kiosk.recognition.recognizer import FrameResult
from kiosk.service.health import HealthMonitor
from kiosk.service.stages.decision import DecisionStage


class Script:
    """A tracker that answers frame n with steps[n] (then nobody); a screen that notes what it was shown."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.shown: list[Step] = []

    def update(self, t: float, *_args: Any) -> Step:
        return self.steps[int(t)] if int(t) < len(self.steps) else Step(None)

    def present(self, step: Step) -> None:
        self.shown.append(step)


class HeldWriter:
    """The event writer's queue: what was submitted, recorded only when `record()` says so."""

    def __init__(self) -> None:
        self.submitted: list[tuple[dict[str, Any], Any]] = []
        self.futures: list[asyncio.Future[bool]] = []

    def submit(self, event: dict[str, Any], match: Any = None) -> asyncio.Future[bool]:
        self.submitted.append((event, match))
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]

    def record(self) -> None:
        for future in self.futures:
            if not future.done():
                future.set_result(True)


class AuditingStore:
    def __init__(self) -> None:
        self.attempts: list[tuple[Any, bool, Optional[str]]] = []

    def record_match_attempt(self, result: Any, *, granted: bool, model_id: Optional[str] = None,
                             reasons: Any = (), actor: str = "daemon") -> None:
        self.attempts.append((result, granted, model_id))


class NoEvents:
    def events_for(self, *_args: Any) -> list[dict[str, Any]]:
        return []


def granted_step(cfg) -> Step:
    obs = Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(36.6),))
    decision = decide(obs, cfg)
    assert decision.granted
    return Step(7, Verdict(7, decision, obs))


def prompt_step(cfg) -> Step:
    obs = Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(None),))
    return Step(7, prompt=decide(obs, cfg))


def stage_for(cfg, steps: list[Step], attendance: Any, store_thread: ThreadPoolExecutor
              ) -> tuple[DecisionStage, Script, HeldWriter, RecordingGate, AuditingStore, list[int]]:
    script, writer, gate, store, changed = Script(steps), HeldWriter(), RecordingGate(), AuditingStore(), []
    stage = DecisionStage(asyncio.Queue(4), tracker=script, feedback=script, attendance=attendance, writer=writer,
                          gate=gate, health=HealthMonitor(30.0), record_wait_s=cfg.gate.record_wait_s,
                          open_before_recorded=False, model_id="test-model", store=store, store_thread=store_thread,
                          attendance_changed=lambda: changed.append(1))
    return stage, script, writer, gate, store, changed


def test_a_verdict_is_shown_submitted_with_its_match_audit_and_granted_once_recorded(caplog) -> None:
    cfg = config()
    caplog.set_level(logging.INFO)
    with ThreadPoolExecutor(1) as store_thread:
        steps = [prompt_step(cfg), prompt_step(cfg), granted_step(cfg)]
        stage, script, writer, gate, _, changed = stage_for(cfg, steps, Attendance(cfg), store_thread)

        async def scenario() -> None:
            for t in range(3):
                stage.decide(FrameResult(float(t), []), AT)
            assert script.shown == steps                     # every step is shown, prompts too
            assert [e["type"] for e, _ in writer.submitted] == ["access_granted", "attendance"]
            first, then = writer.submitted[0][1], writer.submitted[1][1]
            assert first.granted and first.model_id == "test-model" and then is None   # the audit rides once
            assert gate.calls == [] and changed == [1]
            writer.record()
            await until(lambda: gate.calls == ["grant"])
            assert not stage.grants
        asyncio.run(scenario())
    assert caplog.text.count(" prompt") == 1                  # the same prompt is logged once
    assert stage.health.counters["decisions_granted"] == 1


def test_a_match_attempt_with_no_event_is_audited_on_the_store_thread() -> None:
    cfg = config()
    with ThreadPoolExecutor(1) as store_thread:
        stage, _, writer, gate, store, _ = stage_for(cfg, [granted_step(cfg)], NoEvents(), store_thread)

        async def scenario() -> None:
            stage.decide(FrameResult(0.0, []), AT)
        asyncio.run(scenario())
    (result, granted, model_id), = store.attempts
    assert result == match(STAFF) and granted and model_id == "test-model" and writer.submitted == []


def test_a_grant_still_waiting_for_its_events_at_shutdown_opens_nothing() -> None:
    cfg = config()
    with ThreadPoolExecutor(1) as store_thread:
        stage, _, writer, gate, _, _ = stage_for(cfg, [granted_step(cfg)], Attendance(cfg), store_thread)

        async def scenario() -> None:
            stage.decide(FrameResult(0.0, []), AT)
            (waiting,) = stage.grants
            stage.cancel_grants()
            await asyncio.gather(waiting, return_exceptions=True)
            writer.record()                                   # recorded after all: the gate stays locked
            await asyncio.sleep(0)
            assert gate.calls == [] and not stage.grants
        asyncio.run(scenario())
