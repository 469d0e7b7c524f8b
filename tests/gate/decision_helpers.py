"""Stand-ins for the decision stage's tests: a gate, tracker, screen and event log that record what they were
asked to do, and a DecisionStage wired to them with a real EventWriter."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kiosk.access.tracker import Step, Verdict
from kiosk.config import KioskConfig
from kiosk.service.health import HealthMonitor
from kiosk.service.stages.decision import DecisionStage
from kiosk.service.stages.event_writer import EventWriter


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


class RecordingStore:
    """An event log that records every event (and the match attempt with it)."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, Any]] = []

    def record_event(self, event: dict[str, Any], match: Any = None) -> dict[str, Any]:
        self.recorded.append((event["type"], match))
        return {**event, "signature": {}}


class DecisionRig:
    """A DecisionStage (model "test-model") over `tracker` and `attendance`, a RecordingGate, a silent screen and
    a real EventWriter writing to `store` on a store thread of its own."""

    def __init__(self, config: KioskConfig, store: Any, tracker: Any, attendance: Any) -> None:
        self.health = HealthMonitor(30.0)
        self.gate = RecordingGate()
        self.store_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
        self.writer = EventWriter(store, self.store_thread, self.health)
        self.stage = DecisionStage(
            asyncio.Queue(4), tracker=tracker, feedback=Silent(), attendance=attendance, writer=self.writer,
            gate=self.gate, health=self.health, record_wait_s=config.gate.record_wait_s,
            open_before_recorded=config.gate.open_before_recorded, model_id="test-model", store=store,
            store_thread=self.store_thread)

    def start(self) -> list[asyncio.Task[None]]:
        """The writer and the decision stage as tasks (on the running loop)."""
        return [asyncio.create_task(self.writer.run()), asyncio.create_task(self.stage.run())]

    def run(self, scenario: Any) -> None:
        """Runs an asyncio scenario, then stops the store thread."""
        try:
            asyncio.run(scenario)
        finally:
            self.store_thread.shutdown()


async def until(condition: Callable[[], Any], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
