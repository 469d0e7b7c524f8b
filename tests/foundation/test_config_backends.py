"""[camera], [thermal] and [gate] take only their backend's keys; the files users have keep loading."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kiosk.config import ConfigError, KioskConfig, load_config, parse_config, to_toml
from kiosk.config.camera import MockCameraConfig, OpenCVCameraConfig
from kiosk.config.gate import GpioGateConfig, MockGateConfig, SerialGateConfig
from kiosk.config.thermal import I2cThermalConfig, NoThermalConfig, UartThermalConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("data, names", [
    ({"gate": {"backend": "serial", "gpio_line": 17}},
     ["gate.gpio_line", "belongs to gate.backend = 'gpio'", "not to the configured 'serial'", "serial_port"]),
    ({"gate": {"serial_port": "/dev/ttyUSB0"}},           # no backend: gpio, the default
     ["gate.serial_port", "gate.backend = 'serial'", "configured 'gpio'", "gpio_line"]),
    ({"thermal": {"backend": "uart", "i2c_bus": 1}}, ["thermal.i2c_bus", "'i2c'", "configured 'uart'"]),
    ({"thermal": {"backend": "mock", "uart_port": "/dev/ttyS0"}}, ["thermal.uart_port", "'uart'", "configured 'mock'"]),
    ({"camera": {"backend": "mock", "device": "1"}}, ["camera.device", "'opencv'", "configured 'mock'"]),
    ({"gate": {"backend": "relay9000"}}, ["gate.backend = 'relay9000'", "'gpio', 'serial', 'mock'"]),
    ({"gate": {"backend": "serial", "serial_prot": "x"}}, ["unknown key 'gate.serial_prot'", "serial_port"]),
    ({"gate": {"backend": "serial", "relay_channel": 9}}, ["gate.relay_channel = 9", "less than or equal to 8"]),
])
def test_a_key_of_another_backend_is_refused_by_name(data, names) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "kiosk.toml")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("kiosk.toml: ")
    for name in names:
        assert name in message, message


def test_each_backend_gets_its_own_class_and_defaults() -> None:
    config = KioskConfig()
    assert isinstance(config.gate, GpioGateConfig) and isinstance(config.thermal, I2cThermalConfig)
    assert isinstance(config.camera, OpenCVCameraConfig)
    config = parse_config({"gate": {"backend": "serial", "pulse_s": 2.0}, "thermal": {"backend": "uart"},
                           "camera": {"backend": "mock", "fps": 10}})
    assert isinstance(config.gate, SerialGateConfig) and config.gate.serial_port == "/dev/ttyUSB1"
    assert config.gate.pulse_s == 2.0 and config.gate.gpio_chip == "/dev/gpiochip0"   # shared keys stay
    assert isinstance(config.thermal, UartThermalConfig) and config.thermal.subpage_hz == 8.0
    assert isinstance(config.camera, MockCameraConfig) and config.camera.fps == 10
    assert not hasattr(config.gate, "gpio_line") and not hasattr(config.thermal, "i2c_bus")
    assert NoThermalConfig().subpage_hz is None


def test_a_switched_off_sensor_keeps_its_keys() -> None:
    """`backend = "none"` is one word away from the sensor: its keys may stay (checked, unused)."""
    config = parse_config({"thermal": {"backend": "none", "i2c_bus": 1, "refresh_hz": 16, "uart_port": "/dev/ttyS0"}})
    assert isinstance(config.thermal, NoThermalConfig) and config.thermal.subpage_hz is None
    with pytest.raises(ConfigError, match="thermal.refresh_hz = 10"):
        parse_config({"thermal": {"backend": "none", "refresh_hz": 10}})
    with pytest.raises(ConfigError, match="unknown key 'thermal.i2c_buss'"):
        parse_config({"thermal": {"backend": "none", "i2c_buss": 1}})
    assert parse_config(tomllib.loads(to_toml(config))) == config        # the effective file round-trips
    assert parse_config({"gate": {"backend": "mock"}}).gate == MockGateConfig()


@pytest.mark.parametrize("path", sorted((REPO / "etc").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_file_loads_with_its_backends(path: Path) -> None:
    config = load_config(path)
    data = tomllib.loads(path.read_text())
    for table in ("camera", "thermal", "gate"):
        assert config.model_dump()[table]["backend"] == data.get(table, {}).get("backend", "opencv" if table == "camera"
                                                                                else "i2c" if table == "thermal" else "gpio")


def test_a_file_from_before_the_unions_still_loads() -> None:
    """Every key the old flat tables had, for the backend that uses it, as the README and etc/ show them."""
    text = """
[camera]
backend = "opencv"
device = "/dev/video0"
width = 1280
height = 720
fps = 15
mirror = true
horizontal_fov_deg = 62.2
[thermal]
backend = "i2c"
i2c_bus = 1
i2c_address = 0x33
i2c_chunk_words = 32
refresh_hz = 8
adc_resolution = 18
mode = "chess"
emissivity = 0.98
reflected_c = 22.0
max_errors_before_degraded = 5
[gate]
backend = "gpio"
gpio_chip = "/dev/gpiochip0"
gpio_line = 17
active_low = false
pulse_s = 3.0
door_contact_line = 27
exit_button_line = 22
held_open_s = 30
[temperature]
sensor_fov = "110x75"
"""
    config = parse_config(tomllib.loads(text))
    assert config.camera.device == "/dev/video0" and config.thermal.i2c_chunk_words == 32
    assert config.gate.door_contact_line == 27
    assert config.thermal_geometry.fov_deg == (110.0, 75.0) and config.thermal_geometry.resolution == (24, 32)
    serial = parse_config(tomllib.loads('[gate]\nbackend = "serial"\nserial_port = "/dev/ttyUSB0"\nserial_baud = 9600\n'
                                        'relay_channel = 2\ngpio_chip = "/dev/gpiochip4"\ndoor_contact_line = 5\n'))
    assert serial.gate.relay_channel == 2 and serial.gate.gpio_chip == "/dev/gpiochip4"    # door inputs on GPIO
    uart = parse_config(tomllib.loads('[thermal]\nbackend = "uart"\nuart_port = "/dev/serial0"\nuart_baud = 460800\n'
                                      'refresh_hz = 4\nemissivity = 0.97\n'))
    assert uart.thermal.uart_baud == 460800
