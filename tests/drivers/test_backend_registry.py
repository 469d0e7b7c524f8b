"""The backend registries: names to factories, one-line errors naming the known backends."""
from __future__ import annotations

import pytest

from drivers.registry import Registry, UnknownBackend
from kiosk.config import parse_config
from kiosk.face.detectors import DETECTORS
from kiosk.face.ensemble import EMBEDDERS
from kiosk.hardware import CAMERAS, INPUTS, RELAYS, THERMAL_SENSORS, build_relay, build_thermal


def test_register_get_and_the_error_naming_the_known_kinds() -> None:
    registry: Registry[str] = Registry("widget", "widget.backend")

    @registry.register("b")
    def _b() -> str:
        return "built b"

    registry.add("a", lambda: "built a")
    assert registry.get("b")() == "built b" and registry.kinds() == ["a", "b"] and "a" in registry
    with pytest.raises(UnknownBackend, match=r"^widget.backend = 'c': no widget backend of that name \(known: a, b\)$"):
        registry.get("c")
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", lambda: "again")
    registry.remove("a")
    assert registry.kinds() == ["b"]


def test_every_configurable_backend_is_registered() -> None:
    """Each backend the configuration accepts has a factory (and nothing else is registered)."""
    from typing import get_args

    from kiosk.config import _backend_of, _tables
    from kiosk.config.camera import CameraConfig
    from kiosk.config.face import DetectorKind
    from kiosk.config.gate import GateConfig
    from kiosk.config.thermal import ThermalConfig

    for union, registry in ((CameraConfig, CAMERAS), (ThermalConfig, THERMAL_SENSORS), (GateConfig, RELAYS)):
        assert sorted(_backend_of(t) for t in _tables(get_args(union)[0])) == registry.kinds()
    assert INPUTS.kinds() == ["gpio"]
    assert DETECTORS.kinds() == sorted(kind.value for kind in DetectorKind)
    assert EMBEDDERS.kinds() == ["embedder", "ensemble"]


def test_factories_build_the_configured_driver(tmp_path) -> None:
    from drivers.relay.gpio import GpioRelay
    from drivers.relay.mock import MockRelay
    from drivers.relay.serial_board import SerialRelay
    from drivers.thermal.mlx90640_uart import Mlx90640UartSensor

    relay = build_relay(parse_config({"gate": {"backend": "serial", "serial_port": "/dev/ttyUSB7", "relay_channel": 3}}))
    assert isinstance(relay, SerialRelay) and (relay.port, relay.channel) == ("/dev/ttyUSB7", 3)
    gpio = build_relay(parse_config({"gate": {"gpio_line": 5, "active_low": True}}))   # backend defaults to gpio
    assert isinstance(gpio, GpioRelay) and (gpio.line, gpio.active_low) == (5, True)
    mock = build_relay(parse_config({"gate": {"backend": "mock"}, "device": {"state_dir": str(tmp_path)}}))
    assert isinstance(mock, MockRelay) and mock.state_file == tmp_path / "relay-mock.json"
    assert build_thermal(parse_config({"thermal": {"backend": "none"}}), None) is None
    uart = build_thermal(parse_config({"thermal": {"backend": "uart", "uart_port": "/dev/ttyS3"},
                                       "temperature": {"sensor_fov": "110x75"}}), None)
    assert isinstance(uart, Mlx90640UartSensor)
    assert (uart.geometry.rows, uart.geometry.cols, uart.geometry.fov_deg) == (24, 32, (110.0, 75.0))


def test_a_backend_registered_later_is_built_by_name() -> None:
    THERMAL_SENSORS.add("test-later", lambda table, context: "sensor")
    try:
        assert THERMAL_SENSORS.get("test-later")(None, None) == "sensor"
    finally:
        THERMAL_SENSORS.remove("test-later")
    with pytest.raises(UnknownBackend, match="thermal.backend = 'test-later'.*known: i2c, mock, none, uart"):
        THERMAL_SENSORS.get("test-later")
