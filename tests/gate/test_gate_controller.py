"""kiosk.access.gate.GateController: the worker applies the PulseTimer through the real drivers, fail-secure exits.

The timing rules themselves are tested with made-up times in test_gate_timing.py. Here every
test waits for the relay transitions it expects (the controller's on_change listener), with a
generous timeout only as a guard, and checks pulse lengths as the controller timed them: never
shorter than asked, which holds however loaded the machine is.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from gate_helpers import WAIT_S, Transitions

from drivers.relay.base import RelayError
from drivers.relay.fake_chip import FakeGpioChip
from drivers.relay.gpio import GpioRelay
from drivers.relay.mock import MockRelay
from drivers.relay.serial_board import SerialRelay
from kiosk.access.gate import GateController
from kiosk.access.gate_timing import RETRY_LOCK_S

LATE_S = 2.0   # a pulse ending later than this past its end would be a bug, not load


def assert_pulses(heard: Transitions, pulse_s: float, count: int) -> None:
    """`count` pulses, each at least pulse_s long (the controller's own switch times) and not stuck."""
    pulses = heard.pulses()
    assert len(pulses) == count and len(heard.seen) == 2 * count, heard.seen
    for on, off in pulses:
        assert on + pulse_s <= off < on + pulse_s + LATE_S, (on, off)


@pytest.mark.parametrize("active_low", [False, True])
def test_gpio_pulses(active_low: bool) -> None:
    chip = FakeGpioChip()
    heard = Transitions()

    async def run() -> None:
        relay = GpioRelay("/dev/gpiochip0", 17, active_low=active_low, request_lines=chip.request_lines)
        async with GateController(relay, pulse_s=0.25, on_change=heard) as gate:
            for n in range(1, 4):
                gate.grant()
                await heard.until(2 * n)          # unlocked and locked again

    asyncio.run(run())
    assert_pulses(heard, 0.25, 3)
    locked, unlocked = (1, 0) if active_low else (0, 1)
    levels = [level for _, line, level in chip.history if line == 17]
    assert levels == [locked] + [unlocked, locked] * 3 + [locked], "opened locked, three pulses, closed locked"


def test_serial_pulses_over_pty(board) -> None:
    heard = Transitions()

    async def run() -> None:
        async with GateController(SerialRelay(board.port), pulse_s=0.3, on_change=heard) as gate:
            for n in range(1, 4):
                gate.grant()
                await heard.until(2 * n)

    asyncio.run(run())
    assert_pulses(heard, 0.3, 3)
    states = board.wait_for(1 + 2 * 3 + 1)
    assert [on for _, on in states] == [False] + [True, False] * 3 + [False], "on and off commands on the wire"


def test_pulse_ends_while_the_event_loop_is_blocked() -> None:
    """The worker thread times the pulse: a stalled pipeline cannot keep the gate open."""
    relay = MockRelay()
    heard = Transitions()

    async def run() -> None:
        async with GateController(relay, pulse_s=0.2, on_change=heard) as gate:
            gate.grant()
            heard.wait_for(2)            # blocks the loop (a hung inference call, say) until the gate locked
            assert not gate.unlocked and not relay.unlocked

    asyncio.run(run())
    assert_pulses(heard, 0.2, 1)


def test_grant_while_unlocked_extends_the_pulse() -> None:
    relay = MockRelay()
    heard = Transitions()

    async def run() -> None:
        # The first pulse is long enough that the second grant comes while unlocked, even on a loaded machine.
        async with GateController(relay, pulse_s=1.0, on_change=heard) as gate:
            gate.grant()
            await heard.until(1)
            regranted = time.monotonic()
            gate.grant(1.5)               # from now, another 1.5 s
            (_, unlocked_at), (_, locked_at) = await heard.until(2)
            assert locked_at >= regranted + 1.5, "extended from the second grant"
            assert locked_at - unlocked_at < 2.5 + LATE_S

    asyncio.run(run())
    assert [unlocked for _, unlocked in relay.transitions] == [False, True, False, False], "one pulse"


def test_grant_with_its_own_pulse_and_lock_ending_a_pulse() -> None:
    relay = MockRelay()
    heard = Transitions()

    async def run() -> None:
        async with GateController(relay, pulse_s=30.0, on_change=heard) as gate:
            gate.grant(0.1)
            await heard.until(2)
            assert not gate.unlocked
            gate.grant()                  # the configured 30 s
            await heard.until(3)
            assert gate.unlocked
            gate.lock()
            await heard.until(4)          # fails after WAIT_S, long before the 30 s pulse would end
            assert not gate.unlocked and gate.last_locked_at == heard.seen[3][1]

    asyncio.run(run())
    (first_on, first_off), (second_on, second_off) = heard.pulses()
    assert first_on + 0.1 <= first_off < first_on + 0.1 + LATE_S
    assert second_off - second_on < 30
    assert [u for _, u in relay.transitions] == [False, True, False, True, False, False]


def test_exception_in_the_pipeline_releases_at_once() -> None:
    relay = MockRelay()
    heard = Transitions()

    async def pipeline(gate: GateController) -> None:
        gate.grant()
        await heard.until(1)
        raise RuntimeError("camera lost")

    async def run() -> None:
        async with GateController(relay, pulse_s=30, on_change=heard) as gate:
            await pipeline(gate)

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="camera lost"):
        asyncio.run(run())
    assert time.monotonic() - started < WAIT_S, "released at once, not at the end of the 30 s pulse"
    assert [u for u, _ in heard.seen] == [True, False]
    assert relay.transitions[-1][1] is False and relay.unlocked is False and not relay.is_open


def test_cancellation_releases() -> None:
    relay = MockRelay()
    heard = Transitions()

    async def daemon() -> None:
        async with GateController(relay, pulse_s=30, on_change=heard) as gate:
            gate.grant()
            await asyncio.Event().wait()

    async def run() -> None:
        task = asyncio.create_task(daemon())
        await heard.until(1)
        assert relay.unlocked
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert [u for u, _ in heard.seen] == [True, False]
    assert relay.unlocked is False and not relay.is_open


def test_listener_hears_every_transition_with_the_switch_time() -> None:
    relay = MockRelay()
    heard = Transitions()

    async def run() -> None:
        async with GateController(relay, pulse_s=0.05, on_change=heard) as gate:
            gate.grant()
            await heard.until(2)

    asyncio.run(run())
    assert [u for u, _ in heard.seen] == [True, False]
    switched = [when for when, _ in relay.transitions[1:3]]
    assert heard.seen[0][1] <= switched[0] < heard.seen[1][1] <= switched[1], "heard times: when each switch began"


def test_open_failure_is_raised_by_start() -> None:
    chip = FakeGpioChip()
    chip.request_lines("/dev/gpiochip0", {17: None})   # someone else holds the line

    async def run() -> None:
        async with GateController(GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines), 1.0):
            pass

    with pytest.raises(RelayError, match="busy"):
        asyncio.run(run())


class FlakyRelay(MockRelay):
    """Fails to release a given number of times (a USB relay that hiccups)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def set_unlocked(self, unlocked: bool) -> None:
        if not unlocked and self.failures > 0:
            self.failures -= 1
            raise RelayError("write failed")
        super().set_unlocked(unlocked)


def test_failed_release_is_retried_until_it_works() -> None:
    relay = FlakyRelay(failures=2)
    heard = Transitions()                 # hears switches that worked

    async def run() -> None:
        async with GateController(relay, pulse_s=0.05, on_change=heard) as gate:
            gate.grant()
            await heard.until(2)
            assert not gate.unlocked

    asyncio.run(run())
    assert relay.failures == 0
    (_, unlocked_at), (_, locked_at) = heard.seen
    assert locked_at >= unlocked_at + 0.05 + 2 * RETRY_LOCK_S, "two failed releases, retried RETRY_LOCK_S apart"
    assert [u for _, u in relay.transitions][:3] == [False, True, False]


class FailingRelay(MockRelay):
    """Every switch fails; counts the attempts."""

    def __init__(self) -> None:
        super().__init__(fail=True)
        self.attempts = 0
        self.tried = threading.Event()

    def set_unlocked(self, unlocked: bool) -> None:
        self.attempts += 1
        self.tried.set()
        super().set_unlocked(unlocked)


def test_failed_unlock_is_not_retried() -> None:
    relay = FailingRelay()
    gate = GateController(relay, pulse_s=0.05)
    gate.start_sync()
    gate.grant()
    assert relay.tried.wait(WAIT_S)
    gate.stop_sync()                      # a retry would have been made at once, before the worker waits again
    assert relay.attempts == 1 and not gate.unlocked
    assert [u for _, u in relay.transitions] == [False, False]  # open and close only


def test_start_sync_and_stop_sync_without_a_loop() -> None:
    relay = MockRelay()
    heard = Transitions()
    gate = GateController(relay, 0.05, on_change=heard)
    gate.start_sync()
    gate.grant()
    heard.wait_for(2)
    gate.stop_sync()
    assert [u for _, u in relay.transitions] == [False, True, False, False]
    gate.grant()                          # after stop: ignored
    assert not relay.is_open and len(heard.seen) == 2


def test_from_config_builds_the_configured_relay(tmp_path) -> None:
    from gate_helpers import config

    from drivers.relay.mock import read_state_file
    from kiosk.access.gate import mock_state_path

    cfg = config({"gate": {"backend": "mock", "pulse_s": 30}, "device": {"state_dir": str(tmp_path)}})
    heard = Transitions()
    gate = GateController.from_config(cfg, on_change=heard)
    assert isinstance(gate.relay, MockRelay) and gate.pulse_s == 30
    gate.start_sync()
    gate.grant()
    heard.wait_for(1)
    assert read_state_file(mock_state_path(cfg)) is True
    gate.stop_sync()                      # releases long before the pulse would end
    assert [u for u, _ in heard.seen] == [True, False]
    assert read_state_file(tmp_path / "relay-mock.json") is False
    with pytest.raises(ValueError, match="at most 60"):
        GateController(MockRelay(), 61)
