"""The decision stage: each recognised frame through the tracker and the policy; a verdict's events, then its gate.

    results --> Tracker.update (walk-up tracks, policy.decide) --> Feedback.present (screen, LED, buzzer)
                     | verdict
                     v
               1. events built (Attendance.events_for)      <- before anything moves
               2. events submitted to the EventWriter, the match audit with the first
               3. gate.grant() once they are in the local log (gate.record_wait_s; kept locked while the log fails;
                  gate.open_before_recorded: at once, the warned-about override)

An exception while deciding locks the gate, is logged and alarmed (`decision`, cleared by the next verdict), and
the next frame is decided: a bug or bad data in this path must not end the daemon.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, Optional, Protocol

from ...access.policy import describe
from ...access.tracker import FaceSample, Step, Verdict
from ...recognition.recognizer import FrameResult
from ...store import MatchAttempt
from ..health import HealthMonitor
from .event_writer import wait_recorded

log = logging.getLogger("kiosk.daemon")
decisions_log = logging.getLogger("kiosk.decision")


class Tracking(Protocol):
    def update(self, t: float, at: datetime, samples: Sequence[FaceSample]) -> Step: ...


class Presenter(Protocol):
    def present(self, step: Step) -> None: ...


class EventFactory(Protocol):
    def events_for(self, verdict: Verdict, at: Optional[datetime] = None) -> list[dict[str, Any]]: ...


class EventSubmitter(Protocol):
    def submit(self, event: dict[str, Any], match: Optional[MatchAttempt] = None) -> asyncio.Future[bool]: ...


class Gate(Protocol):
    def grant(self) -> None: ...

    def lock(self) -> None: ...


class MatchAudit(Protocol):
    def record_match_attempt(self, result: Any, *, granted: bool, model_id: Optional[str] = None,
                             reasons: Sequence[str] = (), actor: str = "daemon") -> Any: ...


class DecisionStage:
    def __init__(self, results: asyncio.Queue[FrameResult], *, tracker: Tracking, feedback: Presenter,
                 attendance: EventFactory, writer: EventSubmitter, gate: Gate, health: HealthMonitor,
                 record_wait_s: float, open_before_recorded: bool, model_id: str, store: MatchAudit,
                 store_thread: Executor, attendance_changed: Callable[[], None] = lambda: None) -> None:
        """`record_wait_s`, `open_before_recorded`: [gate]; `model_id`: the face model the match attempts were
        made with (for their audit); `store` and `store_thread`: where a match attempt that produced no event is
        audited; `attendance_changed()`: the ledger changed in memory (to be saved)."""
        self.results = results
        self.tracker = tracker
        self.feedback = feedback
        self.attendance = attendance
        self.writer = writer
        self.gate = gate
        self.health = health
        self.record_wait_s = record_wait_s
        self.open_before_recorded = open_before_recorded
        self.model_id = model_id
        self.store = store
        self.store_thread = store_thread
        self.attendance_changed = attendance_changed
        self.grants: set[asyncio.Task[None]] = set()    # grants waiting for their events to be recorded
        self._last_prompt: Optional[str] = None

    async def run(self) -> None:
        while True:
            result = await self.results.get()
            at = datetime.now(UTC)
            try:
                self.decide(result, at)
            except Exception as exc:
                self._failed(exc)

    def cancel_grants(self) -> None:
        """At shutdown (the gate is locked): grants still waiting for their events open nothing."""
        for grant in list(self.grants):
            grant.cancel()

    def decide(self, result: FrameResult, at: datetime) -> None:
        """One frame's faces: the tracker's step to the feedback, a verdict acted on (on the loop)."""
        step = self.tracker.update(result.timestamp, at, result.samples)
        self.feedback.present(step)
        if step.prompt is not None and step.prompt.message != self._last_prompt:
            log.info("prompt", extra={"fields": {"track": step.track_id, "message": step.prompt.message,
                                                 "reasons": list(step.prompt.reasons)}})
            self._last_prompt = step.prompt.message
        if step.track_id is None:
            self._last_prompt = None
        if step.verdict is not None:
            self._act(step.verdict, at)

    def _act(self, verdict: Verdict, at: datetime) -> None:
        """A verdict: its events and log line are built before the gate moves (an error building them must not
        leave the gate open with nothing recorded), then the log line, the events (with the match audit, one
        transaction), and the gate once they are recorded."""
        decision, obs = verdict.decision, verdict.observation
        events = self.attendance.events_for(verdict, at)
        person = obs.person
        temperature = decision.temperature
        fields = {
            "outcome": decision.outcome.value,
            "reasons": ",".join(decision.reasons) or "-",
            # As in the events: a face not proven to be the person is only a candidate (no name).
            "person": person.name if person and decision.identified else "unknown",
            "employee_no": person.employee_no if person and decision.identified else None,
            "candidate": person.employee_no if person and not decision.identified else None,
            "body_c": round(temperature.body_c, 2) if temperature and temperature.body_c is not None else None,
            "live": obs.liveness.live if obs.liveness else None,
            "masked": decision.masked,
            "message": decision.message,
            "events": ",".join(e["type"] for e in events),
            "summary": describe(decision)}
        grant = decision.granted and self._may_grant(events, fields)
        decisions_log.info("decision", extra={"fields": fields})
        self.health.count(f"decisions_{decision.outcome.value}")
        self.health.clear_alarm("decision")
        match = (MatchAttempt(obs.match, decision.granted, self.model_id, tuple(decision.reasons))
                 if obs.match is not None else None)
        recorded = [self.writer.submit(event, match if i == 0 else None) for i, event in enumerate(events)]
        if match is not None and not events:
            self.store_thread.submit(self._audit_match, match)
        if grant:
            if self.open_before_recorded:
                self.gate.grant()
            else:
                task = asyncio.get_running_loop().create_task(self._grant_when_recorded(recorded))
                self.grants.add(task)
                task.add_done_callback(self.grants.discard)
        self.attendance_changed()

    def _may_grant(self, events: list[dict[str, Any]], fields: dict[str, Any]) -> bool:
        """Never grant what cannot be recorded: while the event log fails (alarm `event_log`: disk full, a
        damaged or closed database) the gate stays locked and the events say so."""
        failing = self.health.alarms.get("event_log")
        if failing is None:
            return True
        self._withheld(f"the event log cannot record ({failing})")
        fields["gate"] = "kept locked: the event log cannot record"
        for event in events:
            event["detail"] = {**(event.get("detail") or {}), "gate": "kept_locked_event_log_failing"}
        return False

    async def _grant_when_recorded(self, recorded: list[asyncio.Future[bool]]) -> None:
        """Open the gate once every event of the grant is in the local log (a crash or a failing disk cannot
        leave an opening unrecorded); not within gate.record_wait_s and it stays locked."""
        problem = await wait_recorded(recorded, self.record_wait_s)
        if problem is None:
            self.gate.grant()
        else:
            self._withheld(f"its events were {problem}")

    def _withheld(self, why: str) -> None:
        self.health.count("grants_withheld")
        log.error("gate kept locked for a granted person: %s", why)

    def _failed(self, exc: Exception) -> None:
        """A bug or bad data in the decision path must not end the daemon: the gate is locked, the error logged
        and alarmed (health `alarms.decision`, cleared by the next verdict), and the next frame is decided."""
        self.gate.lock()
        self.health.count("decision_errors")
        self.health.raise_alarm("decision", f"{type(exc).__name__}: {exc}")
        log.exception("decision failed; gate locked")

    def _audit_match(self, match: MatchAttempt) -> None:
        """A match attempt that produced no event (its audit otherwise goes with the event's transaction)."""
        try:
            self.store.record_match_attempt(match.result, granted=match.granted, model_id=match.model_id,
                                            reasons=match.reasons, actor=match.actor)
        except Exception:
            log.exception("audit of a match attempt failed")
