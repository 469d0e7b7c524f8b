"""Clock synchronisation: the kernel's NTP state, the timesyncd marker, the selftest warning."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.service import timesync
from kiosk.service.selftest import ClockWarning, SelfTest
from kiosk.service.timesync import ClockState, clock_state, describe


def test_kernel_state_answers_on_linux():
    # adjtimex(modes=0) is allowed to any process outside a seccomp filter; whichever way this machine's
    # clock is, the answer is a bool and agrees with clock_state.
    kernel = timesync.kernel_state()
    assert kernel in (True, False)
    assert clock_state() == ClockState(kernel, "kernel")


def test_marker_file_is_the_fallback_when_adjtimex_is_denied(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(timesync, "kernel_state", lambda: None)
    assert clock_state(tmp_path / "absent") == ClockState(None, "unknown")
    marker = tmp_path / "synchronized"
    marker.touch()
    assert clock_state(marker) == ClockState(True, "systemd-timesyncd")


def test_descriptions_say_what_to_do():
    assert "timedatectl set-ntp true" in describe(ClockState(False, "kernel"))
    assert describe(ClockState(True, "kernel")) == "synchronised (kernel)"
    assert "cannot tell" in describe(ClockState(None, "unknown"))


@pytest.mark.parametrize("synchronised", [True, False])
def test_selftest_warns_but_does_not_fail_on_an_unsynchronised_clock(monkeypatch, synchronised):
    from kiosk.config import KioskConfig

    monkeypatch.setattr(timesync, "kernel_state", lambda: synchronised)
    test = SelfTest(KioskConfig())
    assert ("clock", False, test.clock) in test.checks()      # not required
    if synchronised:
        assert test.clock() == "synchronised (kernel)"
    else:
        with pytest.raises(ClockWarning, match="NOT synchronised"):
            test.clock()


def test_the_clock_watch_raises_and_clears_the_clock_alarm(monkeypatch):
    from kiosk.service.health import HealthMonitor
    from kiosk.service.timesync import ClockWatch

    health = HealthMonitor(30.0)
    clock = ClockWatch(health)
    monkeypatch.setattr("kiosk.service.timesync.clock_state", lambda: ClockState(False, "kernel"))
    clock.check()
    assert "NOT synchronised" in health.alarms["clock"] and clock.synchronised is False
    assert health.failing_alarms() == {}                      # a warning: the remote selftest still passes
    monkeypatch.setattr("kiosk.service.timesync.clock_state", lambda: ClockState(True, "kernel"))
    clock.check()
    assert "clock" not in health.alarms


class RecordingStore:
    def __init__(self) -> None:
        self.recorded: list[dict] = []

    def record_event(self, event: dict, match=None) -> dict:
        self.recorded.append(event)
        return {**event, "signature": {}}


@pytest.mark.parametrize("synchronised", [True, None, False])
def test_events_recorded_while_the_clock_is_not_synchronised_say_so(synchronised):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from kiosk.service.health import HealthMonitor
    from kiosk.service.stages.event_writer import EventWriter

    store, store_thread = RecordingStore(), ThreadPoolExecutor(1)
    clock = ClockState(synchronised, "kernel")

    async def scenario() -> None:
        writer = EventWriter(store, store_thread, HealthMonitor(30.0), clock_synchronised=lambda: clock.synchronised)
        task = asyncio.create_task(writer.run())
        async with asyncio.timeout(10):                       # a guard only
            assert await writer.submit({"type": "access_granted", "event_id": "e1"})
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        store_thread.shutdown()
    (event,) = store.recorded
    if synchronised is False:
        assert event["clock_synchronised"] is False
    else:
        assert "clock_synchronised" not in event           # synchronised, or nobody can tell
