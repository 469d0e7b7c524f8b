"""MLX90640 thermopile array: Melexis' algorithm in numpy, I2C and UART transports, and a register-level mock.

- `sensor.Mlx90640`: the sensor on I2C (subpages and full frames, health)
- `uart.GyMcu90640`: a GY-MCU90640 UART module
- `mock.MockMlx90640Bus`: a simulated sensor behind a fake `smbus2.SMBus`, fed by a scene callable
- `eeprom.parse_eeprom` / `compute.Calculator`: the maths, usable on recorded register dumps
"""
from .compute import Calculator, FrameDataError, SubpageResult
from .eeprom import Calibration, EepromError, parse_eeprom
from .i2c import BusError, Mlx90640Error, SubpageTimeout
from .mock import MockMlx90640Bus, uniform_scene
from .sensor import Frame, Mlx90640
from .uart import GyMcu90640, UartError

__all__ = ["BusError", "Calculator", "Calibration", "EepromError", "Frame", "FrameDataError", "GyMcu90640",
           "Mlx90640", "Mlx90640Error", "MockMlx90640Bus", "SubpageResult", "SubpageTimeout", "UartError",
           "parse_eeprom", "uniform_scene"]
