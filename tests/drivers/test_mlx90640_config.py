"""[thermal] configuration keys map onto the MLX90640 sensor constructors; impossible values are refused."""
from __future__ import annotations

import pytest
from mlx90640_support import face_scene
from pydantic import ValidationError

from drivers.mlx90640.mock import MockMlx90640Bus
from drivers.mlx90640.registers import control_word
from drivers.thermal.mlx90640_i2c import Mlx90640I2CSensor
from kiosk.config.thermal import MockThermalConfig, UartThermalConfig


def test_config_keys_build_a_working_sensor_on_the_mock_bus() -> None:
    cfg = MockThermalConfig(refresh_hz=64, adc_resolution=19, mode="interleaved", i2c_chunk_words=128,
                            emissivity=0.98, reflected_c=21.0, max_errors_before_degraded=3)
    bus = MockMlx90640Bus(face_scene, emissivity=cfg.emissivity, reflected_c=cfg.reflected_c)
    sensor = Mlx90640I2CSensor(bus, cfg.i2c_address, refresh_hz=cfg.refresh_hz, adc_resolution=cfg.adc_resolution,
                               mode=str(cfg.mode), chunk_words=cfg.i2c_chunk_words, emissivity=cfg.emissivity,
                               reflected_c=cfg.reflected_c, max_errors_before_degraded=cfg.max_errors_before_degraded)
    with sensor:
        frame = sensor.read(timeout=1.0)
    assert bus.control == control_word(64, 19, chess=False)
    assert abs(float(frame.temperatures[10, 15]) - 36.5) < 0.2
    assert sensor.device.monitor.errors_before_degraded == 3


@pytest.mark.parametrize(("table", "key", "value"), [(MockThermalConfig, "refresh_hz", 10),
                                                     (UartThermalConfig, "uart_baud", 57600),
                                                     (MockThermalConfig, "adc_resolution", 20)])
def test_impossible_values_are_refused_at_load(table: type, key: str, value: float) -> None:
    with pytest.raises(ValidationError, match=key):
        table(**{key: value})
