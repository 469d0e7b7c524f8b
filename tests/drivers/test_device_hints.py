"""Device files that do not open say what to do: I2C not enabled or no permission, serial port missing or busy."""
from __future__ import annotations

import errno

import pytest
import serial

from drivers.hints import i2c_hint, serial_hint
from drivers.mlx90640.i2c import Mlx90640I2C
from drivers.mlx90640.uart import GyMcu90640


def test_missing_i2c_bus_says_how_to_enable_i2c():
    device = Mlx90640I2C(bus=99)                       # /dev/i2c-99 does not exist
    with pytest.raises(Exception, match=r"/dev/i2c-99.*raspi-config nonint do_i2c 0"):
        device.open()


def test_missing_serial_port_points_at_the_stable_names(tmp_path):
    with pytest.raises(Exception, match=r"no-such-port.*/dev/serial/by-id/"):
        GyMcu90640(port=str(tmp_path / "no-such-port")).open()


def test_permission_and_busy_errors_name_the_fix():
    denied = OSError(errno.EACCES, "Permission denied")
    assert "dialout group" in serial_hint(denied) and "i2c group" in i2c_hint(denied)
    assert "serial console" in serial_hint(serial.SerialException("could not exclusively lock port: Resource busy"))
    assert serial_hint(ValueError("baud rate")) == "" and i2c_hint(OSError(errno.EIO, "I/O error")) == ""
