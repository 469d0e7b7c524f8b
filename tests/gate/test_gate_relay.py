"""Relay drivers: GPIO through a fake chip, the LCUS serial board over a real pty, the mock."""
from __future__ import annotations

import os

import pytest
from gpiod.line import Direction, Value

from drivers.relay.base import RelayError
from drivers.relay.fake_chip import FakeGpioChip
from drivers.relay.gpio import GpioRelay
from drivers.relay.mock import MockRelay, read_state_file
from drivers.relay.serial_board import SerialRelay, lcus_command


# GPIO ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("active_low", "locked_level", "unlocked_level"), [(False, 0, 1), (True, 1, 0)])
def test_gpio_levels(active_low: bool, locked_level: int, unlocked_level: int) -> None:
    chip = FakeGpioChip()
    relay = GpioRelay("/dev/gpiochip0", 17, active_low=active_low, request_lines=chip.request_lines)
    relay.open()
    assert chip.level(17) == locked_level, "requested as output already locked"
    relay.set_unlocked(True)
    assert chip.level(17) == unlocked_level
    relay.set_unlocked(False)
    assert chip.level(17) == locked_level
    relay.set_unlocked(True)
    relay.close()
    assert chip.level(17) == locked_level, "close releases the relay"
    relay.close()  # twice is fine
    assert [level for _, line, level in chip.history if line == 17][-2:] == [unlocked_level, locked_level]


def test_gpio_request_settings() -> None:
    chip = FakeGpioChip()
    relay = GpioRelay("/dev/gpiochip0", 5, active_low=True, request_lines=chip.request_lines)
    relay.open()
    request = chip._owners[5]
    settings = request.settings[5]
    assert (settings.direction, settings.output_value, settings.active_low) == (Direction.OUTPUT, Value.INACTIVE, True)
    assert request.consumer == "kiosk-gate"


def test_gpio_line_busy_and_missing_chip_are_one_line_errors() -> None:
    chip = FakeGpioChip()
    holder = GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines)
    holder.open()
    with pytest.raises(RelayError, match=r"^cannot request gpio /dev/gpiochip0 line 17: Device or resource busy$"):
        GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines).open()
    with pytest.raises(RelayError, match=r"^cannot request gpio /dev/gpiochip9 line 17: No such file or directory$"):
        GpioRelay("/dev/gpiochip9", 17, request_lines=chip.request_lines).open()
    with pytest.raises(RelayError, match="not open"):
        GpioRelay("/dev/gpiochip0", 3, request_lines=chip.request_lines).set_unlocked(True)


def test_gpio_real_gpiod_on_a_missing_chip() -> None:
    """Without request_lines the driver uses libgpiod itself; a missing chip is a clear error."""
    with pytest.raises(RelayError, match=r"cannot request gpio /dev/gpiochip77 line 1"):
        GpioRelay("/dev/gpiochip77", 1).open()


def test_gpio_line_keeps_its_level_after_release_like_the_kernel() -> None:
    """Why `kiosk gate lock` must drive the line: a dead process leaves it where it was."""
    chip = FakeGpioChip()
    relay = GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines)
    relay.open()
    relay.set_unlocked(True)
    chip._owners[17].release()          # what the kernel does when the process dies
    assert chip.level(17) == 1
    again = GpioRelay("/dev/gpiochip0", 17, request_lines=chip.request_lines)
    again.open()
    assert chip.level(17) == 0


# Serial (LCUS) -------------------------------------------------------------------------------------
def test_lcus_commands() -> None:
    assert lcus_command(1, True).hex(" ") == "a0 01 01 a2"
    assert lcus_command(1, False).hex(" ") == "a0 01 00 a1"
    assert lcus_command(4, True).hex(" ") == "a0 04 01 a5"
    assert lcus_command(8, False).hex(" ") == "a0 08 00 a8"
    with pytest.raises(ValueError):
        lcus_command(0, True)


def test_serial_relay_over_a_pty(board) -> None:
    relay = SerialRelay(board.port, channel=1)
    relay.open()
    relay.set_unlocked(True)
    relay.set_unlocked(False)
    relay.set_unlocked(True)
    relay.close()
    relay.close()
    assert [state for _, state in board.wait_for(5)] == [False, True, False, True, False]
    assert relay.health.counters["switches"] == 5


def test_serial_relay_channel_3(board) -> None:
    relay = SerialRelay(board.port, channel=3)
    relay.open()
    relay.set_unlocked(True)
    relay.close()
    board.wait_for(3, channel=3)
    assert [command.hex(" ") for _, command in board.commands()] == ["a0 03 00 a3", "a0 03 01 a4", "a0 03 00 a3"]


def test_serial_port_is_exclusive(board) -> None:
    first = SerialRelay(board.port)
    first.open()
    with pytest.raises(RelayError, match=rf"^cannot open serial relay {board.port} channel 1: "):
        SerialRelay(board.port).open()
    first.close()


def test_serial_missing_port_is_one_line_error(tmp_path) -> None:
    with pytest.raises(RelayError, match=r"^cannot open serial relay .*/ttyUSB9 channel 1: .*No such file") as err:
        SerialRelay(str(tmp_path / "ttyUSB9")).open()
    assert "\n" not in str(err.value)


def test_serial_relay_reopens_after_a_write_error(board) -> None:
    relay = SerialRelay(board.port)
    relay.open()
    os.close(relay._serial.fd)           # the USB adapter went away under us
    with pytest.raises(RelayError, match="cannot switch"):
        relay.set_unlocked(True)
    assert relay.health.state == "failed"
    relay.set_unlocked(True)             # the next command re-acquires the port
    relay.close()
    assert [state for _, state in board.wait_for(3)] == [False, True, False]
    assert relay.health.state == "ok"


# Mock ----------------------------------------------------------------------------------------------
def test_mock_relay_records_transitions_and_state_file(tmp_path) -> None:
    clock = iter([1.0, 2.0, 3.5, 4.0])
    state = tmp_path / "relay.json"
    relay = MockRelay(state, clock=lambda: next(clock))
    assert read_state_file(state) is None
    relay.open()
    relay.set_unlocked(True)
    assert read_state_file(state) is True
    relay.set_unlocked(False)
    relay.close()
    assert relay.transitions == [(1.0, False), (2.0, True), (3.5, False), (4.0, False)]
    assert read_state_file(state) is False
    with pytest.raises(RelayError):
        relay.set_unlocked(True)
