"""Never grant without recording: a garbage signing key stops the start (exit 2, one line, gate never opened);
while the event log fails, a running daemon keeps the gate locked for granted people."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from e2e_support import sim_kiosk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gate"))
from gate_helpers import AT, LIVE, STAFF, config, match, reading  # noqa: E402

from kiosk.access.attendance import Attendance  # noqa: E402
from kiosk.access.gate import MOCK_STATE_FILE  # noqa: E402
from kiosk.access.policy import Observation, decide  # noqa: E402
from kiosk.access.tracker import Step, Verdict  # noqa: E402
from kiosk.recognition.recognizer import FrameResult  # noqa: E402
from kiosk.service.health import HealthMonitor  # noqa: E402
from kiosk.service.stages.decision import DecisionStage  # noqa: E402


class RecordingGate:
    def __init__(self) -> None:
        self.grants = 0

    def grant(self) -> None:
        self.grants += 1

    def lock(self) -> None:
        pass


class PendingEvents:
    """The event writer's queue, not drained: what a decision submitted."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def submit(self, event: dict, match=None) -> asyncio.Future[bool]:
        self.events.append(event)
        recorded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        recorded.set_result(True)
        return recorded


class Granted:
    """A tracker whose every frame ends a walk-up with a grant; a screen that shows nothing."""

    def __init__(self, cfg) -> None:
        obs = Observation(at=AT, match=match(STAFF), person=STAFF, liveness=LIVE, temperatures=(reading(36.6),))
        decision = decide(obs, cfg)
        assert decision.granted
        self.step = Step(7, Verdict(7, decision, obs))

    def update(self, *_args) -> Step:
        return self.step

    def present(self, _step: Step) -> None:
        pass


def _stage() -> tuple[DecisionStage, RecordingGate, PendingEvents]:
    cfg = config()
    gate, writer, granted = RecordingGate(), PendingEvents(), Granted(cfg)
    stage = DecisionStage(asyncio.Queue(), tracker=granted, feedback=granted, attendance=Attendance(cfg),
                          writer=writer, gate=gate, health=HealthMonitor(30.0), record_wait_s=cfg.gate.record_wait_s,
                          open_before_recorded=False, model_id="test-model", store=None, store_thread=None)
    return stage, gate, writer


def test_a_granted_person_is_let_in_once_the_events_are_recorded():
    stage, gate, writer = _stage()

    async def scenario() -> None:
        stage.decide(FrameResult(1.0, []), AT)
        assert gate.grants == 0                                  # not before the events are recorded
        await asyncio.wait_for(asyncio.gather(*stage.grants), 10)
        assert gate.grants == 1 and len(writer.events) == 2     # access_granted + attendance
    asyncio.run(scenario())


def test_the_gate_stays_locked_while_the_event_log_fails():
    stage, gate, writer = _stage()

    async def scenario() -> None:
        stage.health.raise_alarm("event_log", "database or disk is full")
        stage.decide(FrameResult(1.0, []), AT)
        assert gate.grants == 0 and stage.health.counters["grants_withheld"] == 1 and not stage.grants
        event = writer.events[0]                                 # still recorded once the log works again
        assert event["type"] == "access_granted" and event["detail"]["gate"] == "kept_locked_event_log_failing"
        stage.health.clear_alarm("event_log")
        stage.decide(FrameResult(2.0, []), AT)
        await asyncio.wait_for(asyncio.gather(*stage.grants), 10)
        assert gate.grants == 1
    asyncio.run(scenario())


def test_a_garbage_signing_key_stops_the_start_with_one_line(tmp_path, models_dir, sim_dir):
    state = tmp_path / "state"
    path = sim_kiosk(state, models_dir, sim_dir)
    (state / "keys" / "signing.key").write_bytes(os.urandom(64))
    result = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("kiosk:")]
    assert len(lines) == 1 and "signing.key is not an unencrypted PEM private key" in lines[0], result.stderr
    relay = state / MOCK_STATE_FILE                             # the mock relay: never opened, or locked
    assert not relay.exists() or json.loads(relay.read_text())["unlocked"] is False
