"""Door alarms from the door contact and the exit button.

- `door_forced_open`: the door opened while the gate was locked, no exit-button press in the last
  `gate.exit_grace_s` seconds and the gate not unlocked within the last RELOCK_GRACE_S (a person
  pulling the door just as the pulse ends).
- `door_held_open`: the door stayed open for `gate.held_open_s` (once per opening).

`DoorMonitor` is the pure state machine (explicit monotonic times). `DoorWatcher` is the asyncio
task that reads `drivers.gpio_inputs.GpioInputs` without blocking, feeds the monitor, unlocks the
gate on an exit-button press (`gate.exit_button_unlocks`) and hands alarms to a callback.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from drivers.gpio_inputs import DOOR, EXIT, GpioInputs, InputChange

from ..config import KioskConfig
from ..hardware import build_inputs  # noqa: F401  (built in kiosk.hardware; imported from here by callers)
from .attendance import make_event
from .gate import GateController

log = logging.getLogger("kiosk.door")

RELOCK_GRACE_S = 1.0
HELD_OPEN = "door_held_open"
FORCED_OPEN = "door_forced_open"
GATE_OPENED = "gate_opened"     # not an alarm: a gate opening that was not a face grant (its source says which)


@dataclass(frozen=True)
class DoorAlarm:
    kind: str                       # door_held_open | door_forced_open | gate_opened
    t: float                        # monotonic time
    detail: dict[str, Any] = field(default_factory=dict)

    def event(self, config: KioskConfig, at: datetime) -> dict[str, Any]:
        """The unsigned event (docs/contracts.md section 1) for this alarm."""
        if self.kind == GATE_OPENED:
            return make_event(self.kind, config, at, detail=dict(self.detail))
        return make_event(self.kind, config, at, detail={"alarm": self.kind, **self.detail})


class DoorMonitor:
    def __init__(self, held_open_s: float, exit_grace_s: float) -> None:
        self.held_open_s = held_open_s
        self.exit_grace_s = exit_grace_s
        self.open_since: Optional[float] = None
        self._held_alarmed = False
        self._last_exit: Optional[float] = None

    def exit_pressed(self, t: float) -> None:
        self._last_exit = t

    def door(self, t: float, shut: bool, *, gate_unlocked: bool, gate_locked_at: Optional[float]) -> list[DoorAlarm]:
        """The door contact changed. Returns the alarms it raises."""
        if shut:
            if self.open_since is not None:
                log.info("door closed after %.1f s", t - self.open_since)
            self.open_since, self._held_alarmed = None, False
            return []
        if self.open_since is not None:
            return []
        self.open_since = t
        exit_recent = self._last_exit is not None and t - self._last_exit <= self.exit_grace_s
        just_locked = gate_locked_at is not None and t - gate_locked_at <= RELOCK_GRACE_S
        if gate_unlocked or exit_recent or just_locked:
            return []
        return [DoorAlarm(FORCED_OPEN, t, {"door": "open", "gate": "locked", "exit_button": False})]

    def tick(self, t: float) -> list[DoorAlarm]:
        """Call regularly (see `next_check`); raises door_held_open once per opening."""
        if self.open_since is None or self._held_alarmed or t - self.open_since < self.held_open_s:
            return []
        self._held_alarmed = True
        return [DoorAlarm(HELD_OPEN, t, {"door": "open", "open_s": round(t - self.open_since, 1)})]

    def next_check(self) -> Optional[float]:
        """When `tick` may next raise an alarm (None = nothing pending)."""
        if self.open_since is None or self._held_alarmed:
            return None
        return self.open_since + self.held_open_s


class DoorWatcher:
    """Runs as an asyncio task: `await watcher.run()`; cancel it to stop (the lines are released)."""

    def __init__(self, inputs: GpioInputs, gate: Optional[GateController], config: KioskConfig,
                 on_alarm: Callable[[DoorAlarm], None], *, on_door: Optional[Callable[[bool], None]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`on_door(is_open)` (optional) hears every door-contact state, e.g. for Home Assistant."""
        self.inputs = inputs
        self.on_door = on_door
        self.gate = gate
        self.config = config
        self.on_alarm = on_alarm
        self.clock = clock
        self.monitor = DoorMonitor(config.gate.held_open_s, config.gate.exit_grace_s)
        self._wake = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        state = await loop.run_in_executor(None, self.inputs.open)
        if state.get(DOOR) is not None:
            self._door_state(not state[DOOR])
        if state.get(DOOR) is False:
            self.monitor.door(self.clock(), False, gate_unlocked=True, gate_locked_at=None)  # open at start: no forced alarm
        loop.add_reader(self.inputs.fileno(), self._readable)
        try:
            while True:
                due = self.monitor.next_check()
                timeout = None if due is None else max(0.0, due - self.clock())
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
                self._raise(self.monitor.tick(self.clock()))
        finally:
            loop.remove_reader(self.inputs.fileno())
            self.inputs.close()

    def _readable(self) -> None:
        try:
            changes = self.inputs.read_changes()
        except Exception:
            log.exception("door inputs")
            return
        for change in changes:
            self._handle(change)
        self._wake.set()

    def _handle(self, change: InputChange) -> None:
        t = change.timestamp_ns / 1e9
        log.info("%s", change.description)
        if change.name == EXIT and change.active:
            self.monitor.exit_pressed(t)
            if self.gate is not None and self.config.gate.exit_button_unlocks:
                self.gate.grant()
                self._raise([DoorAlarm(GATE_OPENED, t, {"source": "exit_button"})])
        elif change.name == DOOR:
            self._door_state(not change.active)
            gate_unlocked = self.gate.unlocked if self.gate is not None else False
            locked_at = self.gate.last_locked_at if self.gate is not None else None
            self._raise(self.monitor.door(t, change.active, gate_unlocked=gate_unlocked, gate_locked_at=locked_at))

    def _door_state(self, is_open: bool) -> None:
        if self.on_door is not None:
            try:
                self.on_door(is_open)
            except Exception:
                log.exception("door state callback failed")

    def _raise(self, alarms: list[DoorAlarm]) -> None:
        for alarm in alarms:
            log.log(logging.INFO if alarm.kind == GATE_OPENED else logging.WARNING, "%s %s", alarm.kind, alarm.detail)
            try:
                self.on_alarm(alarm)
            except Exception:
                log.exception("door alarm callback failed")
