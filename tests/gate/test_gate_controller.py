"""kiosk.gate.GateController: pulse timing through the real drivers, re-grants, fail-secure exits."""
from __future__ import annotations

import asyncio
import time

import pytest

from drivers.relay.base import RelayError
from drivers.relay.fake_chip import FakeGpioChip
from drivers.relay.gpio import GpioRelay
from drivers.relay.mock import MockRelay, pulse_lengths
from drivers.relay.serial_board import SerialRelay
from kiosk.gate import GateController

TOLERANCE_S = 0.020


def gpio_pulses(chip: FakeGpioChip, line: int = 17, active_level: int = 1) -> list[float]:
    """Lengths of the active periods on a line, from the chip's level history."""
    return pulse_lengths([(when, level == active_level) for when, offset, level in chip.history if offset == line])


@pytest.mark.parametrize("active_low", [False, True])
def test_gpio_pulse_length(active_low: bool) -> None:
    chip = FakeGpioChip()

    async def run() -> None:
        relay = GpioRelay("/dev/gpiochip0", 17, active_low=active_low, request_lines=chip.request_lines)
        async with GateController(relay, pulse_s=0.25) as gate:
            for _ in range(3):
                gate.grant()
                await asyncio.sleep(0.4)

    asyncio.run(run())
    pulses = gpio_pulses(chip, active_level=0 if active_low else 1)
    assert len(pulses) == 3
    assert all(abs(p - 0.25) <= TOLERANCE_S for p in pulses), pulses


def test_serial_pulse_length_over_pty(board) -> None:
    async def run() -> None:
        async with GateController(SerialRelay(board.port), pulse_s=0.3) as gate:
            for _ in range(3):
                gate.grant()
                await asyncio.sleep(0.45)

    asyncio.run(run())
    states = board.wait_for(1 + 2 * 3 + 1)
    pulses = pulse_lengths(states)
    assert len(pulses) == 3
    assert all(abs(p - 0.3) <= TOLERANCE_S for p in pulses), pulses
    assert states[0][1] is False and states[-1][1] is False


def test_pulse_ends_on_time_while_the_event_loop_is_blocked() -> None:
    """The worker thread times the pulse: a stalled pipeline cannot keep the gate open."""
    relay = MockRelay()

    async def run() -> None:
        async with GateController(relay, pulse_s=0.2) as gate:
            gate.grant()
            time.sleep(0.6)              # the loop is stuck (a hung inference call, say)
            assert not gate.unlocked

    asyncio.run(run())
    (t_on, on), (t_off, off) = relay.transitions[1:3]
    assert on and not off and abs((t_off - t_on) - 0.2) <= TOLERANCE_S


def test_grant_while_unlocked_extends_the_pulse() -> None:
    relay = MockRelay()

    async def run() -> None:
        async with GateController(relay, pulse_s=0.3) as gate:
            gate.grant()
            await asyncio.sleep(0.2)
            gate.grant()                  # from now, another 0.3 s
            await asyncio.sleep(0.6)

    asyncio.run(run())
    states = [unlocked for _, unlocked in relay.transitions]
    assert states == [False, True, False, False]
    length = relay.transitions[2][0] - relay.transitions[1][0]
    assert abs(length - 0.5) <= TOLERANCE_S + 0.01, length


def test_longer_grant_wins_and_lock_ends_a_pulse() -> None:
    relay = MockRelay()

    async def run() -> None:
        async with GateController(relay, pulse_s=5.0) as gate:
            gate.grant(0.1)
            await asyncio.sleep(0.3)
            assert not gate.unlocked
            gate.grant()
            await asyncio.sleep(0.1)
            assert gate.unlocked
            gate.lock()
            await asyncio.sleep(0.05)
            assert not gate.unlocked and gate.last_locked_at is not None

    asyncio.run(run())
    assert [u for _, u in relay.transitions] == [False, True, False, True, False, False]


def test_exception_in_the_pipeline_releases_at_once() -> None:
    relay = MockRelay()

    async def pipeline(gate: GateController) -> None:
        gate.grant()
        await asyncio.sleep(0.1)
        raise RuntimeError("camera lost")

    async def run() -> None:
        async with GateController(relay, pulse_s=30) as gate:
            await pipeline(gate)

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="camera lost"):
        asyncio.run(run())
    assert time.monotonic() - started < 2, "released at once, not at the end of the 30 s pulse"
    assert relay.transitions[-1][1] is False and relay.unlocked is False and not relay.is_open


def test_cancellation_releases() -> None:
    relay = MockRelay()

    async def daemon() -> None:
        async with GateController(relay, pulse_s=30) as gate:
            gate.grant()
            await asyncio.Event().wait()

    async def run() -> None:
        task = asyncio.create_task(daemon())
        await asyncio.sleep(0.1)
        assert relay.unlocked
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert relay.unlocked is False and not relay.is_open


def test_listener_sees_every_transition() -> None:
    seen: list[bool] = []

    async def run() -> None:
        async with GateController(MockRelay(), pulse_s=0.05, on_change=lambda unlocked, at: seen.append(unlocked)) as g:
            g.grant()
            await asyncio.sleep(0.2)

    asyncio.run(run())
    assert seen == [True, False]


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

    async def run() -> None:
        async with GateController(relay, pulse_s=0.05) as gate:
            gate.grant()
            await asyncio.sleep(1.5)
            assert not gate.unlocked

    asyncio.run(run())
    assert relay.failures == 0
    assert [u for _, u in relay.transitions][:3] == [False, True, False]


def test_failed_unlock_is_not_retried() -> None:
    relay = MockRelay(fail=True)

    async def run() -> None:
        async with GateController(relay, pulse_s=0.05) as gate:
            gate.grant()
            await asyncio.sleep(0.2)
            assert not gate.unlocked

    asyncio.run(run())
    assert [u for _, u in relay.transitions] == [False, False]  # open and close only


def test_start_sync_and_stop_sync_without_a_loop() -> None:
    relay = MockRelay()
    gate = GateController(relay, 0.05)
    gate.start_sync()
    gate.grant()
    time.sleep(0.2)
    gate.stop_sync()
    assert [u for _, u in relay.transitions] == [False, True, False, False]
    gate.grant()                          # after stop: ignored
    assert not relay.is_open


def test_from_config_builds_the_configured_relay(tmp_path) -> None:
    from gate_helpers import config

    from drivers.relay.mock import read_state_file
    from kiosk.gate import mock_state_path

    cfg = config({"gate": {"backend": "mock", "pulse_s": 0.05}, "device": {"state_dir": str(tmp_path)}})
    gate = GateController.from_config(cfg)
    assert isinstance(gate.relay, MockRelay) and gate.pulse_s == 0.05
    gate.start_sync()
    gate.grant()
    time.sleep(0.02)
    assert read_state_file(mock_state_path(cfg)) is True
    gate.stop_sync()
    assert read_state_file(tmp_path / "relay-mock.json") is False
    with pytest.raises(ValueError, match="at most 60"):
        GateController(MockRelay(), 61)
