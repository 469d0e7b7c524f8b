"""Door contact and exit button: the GPIO input driver (fake chip), the alarm rules, the watcher task."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gate_helpers import AT, WAIT_S, Transitions, config
from gpiod.line import Bias, Direction, Edge

from drivers.gpio_inputs import DOOR, EXIT, GpioInputs, InputError
from drivers.relay.fake_chip import FakeGpioChip
from drivers.relay.mock import MockRelay
from kiosk.access.door import (
    FORCED_OPEN,
    GATE_OPENED,
    HELD_OPEN,
    RELOCK_GRACE_S,
    DoorAlarm,
    DoorMonitor,
    DoorWatcher,
    build_inputs,
)
from kiosk.access.gate import GateController

DOOR_LINE, EXIT_LINE = 22, 23
SHUT, OPEN = 0, 1          # contact to ground, pull-up: shut pulls the line low


def inputs(chip: FakeGpioChip, **kw) -> GpioInputs:
    return GpioInputs("/dev/gpiochip0", door_line=DOOR_LINE, exit_line=EXIT_LINE, request_lines=chip.request_lines,
                      **kw)


# Driver ----------------------------------------------------------------------------------------------
def test_inputs_request_edges_with_debounce_and_pull_up() -> None:
    chip = FakeGpioChip()
    chip.drive_input(DOOR_LINE, SHUT)
    door = inputs(chip, debounce_s=0.02)
    assert door.open() == {DOOR: True, EXIT: False}     # door shut, button (pulled up) not pressed
    settings = chip._owners[DOOR_LINE].settings[DOOR_LINE]
    assert (settings.direction, settings.edge_detection, settings.bias, settings.active_low) == \
        (Direction.INPUT, Edge.BOTH, Bias.PULL_UP, True)
    assert settings.debounce_period == timedelta(milliseconds=20)
    door.close()


def test_inputs_report_changes_and_drop_repeats() -> None:
    chip = FakeGpioChip()
    chip.drive_input(DOOR_LINE, SHUT)
    door = inputs(chip)
    door.open()
    chip.drive_input(DOOR_LINE, OPEN)
    chip.drive_input(EXIT_LINE, 0)         # pressed
    chip.drive_input(EXIT_LINE, 1)         # released
    changes = door.read_changes()
    assert [(c.name, c.active) for c in changes] == [(DOOR, False), (EXIT, True), (EXIT, False)]
    assert [c.description for c in changes] == ["door opened", "exit button pressed", "exit button released"]
    assert door.read_changes() == []
    door.close()


def test_inputs_active_high_wiring_uses_pull_down() -> None:
    chip = FakeGpioChip()
    door = inputs(chip, active_low=False)
    assert door.open() == {DOOR: False, EXIT: False}     # pulled down: door contact open = door open
    assert chip._owners[DOOR_LINE].settings[DOOR_LINE].bias == Bias.PULL_DOWN
    chip.drive_input(DOOR_LINE, 1)
    assert [(c.name, c.active) for c in door.read_changes()] == [(DOOR, True)]


def test_inputs_errors() -> None:
    chip = FakeGpioChip()
    with pytest.raises(InputError, match="cannot share line 5"):
        GpioInputs("/dev/gpiochip0", door_line=5, exit_line=5)
    with pytest.raises(InputError, match="no door contact or exit button"):
        GpioInputs("/dev/gpiochip0", door_line=None, exit_line=None).open()
    chip.request_lines("/dev/gpiochip0", {DOOR_LINE: None})
    with pytest.raises(InputError, match=r"cannot request door inputs .* Device or resource busy"):
        inputs(chip).open()


def test_build_inputs_from_config() -> None:
    assert build_inputs(config()) is None
    built = build_inputs(config({"gate": {"door_contact_line": 4, "input_debounce_ms": 50, "inputs_active_low": False}}))
    assert built.lines == {DOOR: 4} and built.debounce_s == 0.05 and built.active_low is False


# Alarm rules (pure) -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "events", "alarms"), [
    ("opened while locked", [("door", 10.0, False, False, None)], [FORCED_OPEN]),
    ("opened while unlocked", [("door", 10.0, False, True, None)], []),
    ("opened just after the pulse ended", [("door", 10.5, False, False, 10.0)], []),
    ("opened long after the pulse ended", [("door", 12.0, False, False, 10.0)], [FORCED_OPEN]),
    ("opened after the exit button", [("exit", 5.0), ("door", 10.0, False, False, None)], []),
    ("exit button pressed too long ago", [("exit", 5.0), ("door", 15.1, False, False, None)], [FORCED_OPEN]),
    ("held open", [("door", 10.0, False, True, None), ("tick", 39.9), ("tick", 40.0), ("tick", 80.0)], [HELD_OPEN]),
    ("closed in time", [("door", 10.0, False, True, None), ("door", 30.0, True, False, None), ("tick", 45.0)], []),
    ("held open twice", [("door", 0.0, False, True, None), ("tick", 31.0), ("door", 32.0, True, False, None),
                         ("door", 33.0, False, True, None), ("tick", 64.0)], [HELD_OPEN, HELD_OPEN]),
    ("forced and then held", [("door", 0.0, False, False, None), ("tick", 30.0)], [FORCED_OPEN, HELD_OPEN]),
    ("bounce while open is no second alarm", [("door", 0.0, False, False, None), ("door", 0.1, False, False, None)],
     [FORCED_OPEN]),
])
def test_door_alarm_rules(name: str, events: list, alarms: list[str]) -> None:
    monitor = DoorMonitor(held_open_s=30, exit_grace_s=10)
    raised: list[DoorAlarm] = []
    for event in events:
        if event[0] == "exit":
            monitor.exit_pressed(event[1])
        elif event[0] == "tick":
            raised += monitor.tick(event[1])
        else:
            _, t, shut, unlocked, locked_at = event
            raised += monitor.door(t, shut, gate_unlocked=unlocked, gate_locked_at=locked_at)
    assert [alarm.kind for alarm in raised] == alarms


def test_alarm_event_dict() -> None:
    event = DoorAlarm(FORCED_OPEN, 1.0, {"door": "open"}).event(config({"device": {"id": "door-9"}}), AT)
    assert event["type"] == "door_forced_open" and event["device_id"] == "door-9"
    assert event["detail"] == {"alarm": "door_forced_open", "door": "open"}
    assert event["person"] is None and event["decision"] is None


# Watcher task ---------------------------------------------------------------------------------------
class Heard:
    """A callback run on the event loop that collects its argument; a test awaits the n-th call."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._called = asyncio.Event()

    def __call__(self, item: Any) -> None:
        self.items.append(item)
        self._called.set()

    async def until(self, count: int) -> list[Any]:
        async with asyncio.timeout(WAIT_S):          # a guard only
            while len(self.items) < count:
                self._called.clear()
                await self._called.wait()
        return self.items[:count]


def test_watcher_exit_button_unlocks_and_door_alarms() -> None:
    chip = FakeGpioChip()
    chip.drive_input(DOOR_LINE, SHUT)
    cfg = config({"gate": {"door_contact_line": DOOR_LINE, "exit_button_line": EXIT_LINE, "held_open_s": 0.3,
                           "exit_grace_s": 0.5}})
    relay = MockRelay()
    gate_heard = Transitions()

    async def run() -> tuple[list[DoorAlarm], list[bool]]:
        alarms, door_states = Heard(), Heard()
        async with GateController(relay, pulse_s=0.2, on_change=gate_heard) as gate:
            watcher = DoorWatcher(build_inputs(cfg, request_lines=chip.request_lines), gate, cfg, alarms,
                                  on_door=door_states)
            task = asyncio.create_task(watcher.run())
            await door_states.until(1)               # inputs open: the door reads shut
            chip.drive_input(EXIT_LINE, 0)          # press: the gate opens, the door may open
            chip.drive_input(EXIT_LINE, 1)
            await gate_heard.until(1)
            chip.drive_input(DOOR_LINE, OPEN)
            chip.drive_input(DOOR_LINE, SHUT)
            await door_states.until(3)
            _, (_, locked_at) = await gate_heard.until(2)
            # Let the relock grace (and the exit grace, which began earlier) run out; only a lower bound.
            await asyncio.sleep(max(0.0, locked_at + RELOCK_GRACE_S + 0.1 - time.monotonic()))
            # The exit button's opening is recorded (gate_opened, its source); the door opened while unlocked: no alarm.
            assert [(a.kind, a.detail) for a in alarms.items] == [(GATE_OPENED, {"source": "exit_button"})]
            chip.drive_input(DOOR_LINE, OPEN)        # forced
            await alarms.until(3)                    # and then held open for held_open_s
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return alarms.items, door_states.items

    alarms, door_states = asyncio.run(run())
    assert [alarm.kind for alarm in alarms] == [GATE_OPENED, FORCED_OPEN, HELD_OPEN]
    assert alarms[2].t - alarms[1].t >= 0.3
    opened = alarms[0].event(cfg, datetime.now(UTC))
    assert opened["type"] == "gate_opened" and opened["detail"] == {"source": "exit_button"}
    assert door_states == [False, True, False, True]   # shut at start, opened, shut, forced open
    assert [u for _, u in relay.transitions][:3] == [False, True, False]
    assert DOOR_LINE not in chip._owners, "lines released when the watcher stops"
