"""Stand-ins for the daemon's decision-path tests: a gate, tracker, screen, event log and pipeline that
record what they were asked to do."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kiosk.daemon import Daemon
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


class RecordingStore:
    """An event log that records every event (and the match attempt with it)."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, Any]] = []

    def record_event(self, event: dict[str, Any], match: Any = None) -> dict[str, Any]:
        self.recorded.append((event["type"], match))
        return {**event, "signature": {}}


class Pipeline:
    model_id = "test-model"


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
