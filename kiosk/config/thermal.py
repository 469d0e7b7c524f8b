"""[thermal]: the MLX90640 thermopile (I2C or a UART module) or its mock.

`backend` picks the driver; each driver takes only its own keys (an `i2c_bus` under
`backend = "uart"` is refused, naming the backend). Each backend also says what its frames cover
(`geometry`), which sizes the rig before any frame arrives.
"""
from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, Tag, field_validator

from .base import Section, by_backend

if TYPE_CHECKING:
    from drivers.thermal.base import ThermalGeometry


class ReadoutMode(StrEnum):
    chess = "chess"
    interleaved = "interleaved"


class _Thermal(Section):
    backend: str

    def geometry(self, lens: str) -> ThermalGeometry:
        """The frames' resolution and field of view; `lens` is `temperature.sensor_fov` (an MLX90640's lens)."""
        from drivers.mlx90640.lens import mlx90640_geometry  # here: the configuration loads without numpy

        return mlx90640_geometry(lens)

    @property
    def subpage_hz(self) -> Optional[float]:
        """How often the sensor measures half a frame; None without a sensor."""
        return None


class _Mlx90640(_Thermal):
    """Keys of every backend that reads frames from an MLX90640."""

    refresh_hz: float = Field(8.0, description="Subpage refresh rate: 0.5, 1, 2, 4, 8, 16, 32 or 64 (uart: the rate "
                                               "the module is set to).")
    emissivity: float = Field(0.98, gt=0.1, le=1.0, description="Emissivity of skin (0.98).")

    @property
    def subpage_hz(self) -> Optional[float]:
        return self.refresh_hz

    @field_validator("refresh_hz")
    @classmethod
    def _refresh_rate_exists(cls, value: float) -> float:
        if value not in (0.5, 1, 2, 4, 8, 16, 32, 64):
            raise ValueError(f"{value:g} Hz is not an MLX90640 refresh rate (0.5, 1, 2, 4, 8, 16, 32, 64)")
        return value


class _Mlx90640Registers(_Mlx90640):
    """Keys of the driver that reads the MLX90640's registers itself (a real I2C bus or the mock bus)."""

    i2c_address: int = Field(0x33, ge=0x03, le=0x77, description="7-bit I2C address (0x33 by default).")
    i2c_chunk_words: int = Field(832, ge=16, le=832,
                                 description="Words per I2C read transfer (lower it for adapters with small buffers).")
    adc_resolution: int = Field(18, ge=16, le=19, description="ADC resolution in bits (16 to 19).")
    mode: ReadoutMode = Field(ReadoutMode.chess, description="chess (Melexis default) or interleaved readout.")
    reflected_c: Optional[float] = Field(None, ge=-40, le=85,
                                         description="Reflected temperature in C; unset = sensor Ta - 8 (Melexis' "
                                                     "open-air rule) or the ambient sensor when one is configured.")
    max_errors_before_degraded: int = Field(5, ge=1, le=1000,
                                            description="Consecutive bus errors before the sensor is reported degraded.")


class _I2cBusKeys(_Mlx90640Registers):
    i2c_bus: int = Field(1, ge=0, le=255, description="I2C bus number (/dev/i2c-N).")


class _UartKeys(_Mlx90640):
    uart_port: str = Field("/dev/ttyUSB0", description="Serial port of a UART module.")
    uart_baud: int = Field(115200, description="UART baud: 9600, 115200 or 460800.")

    @field_validator("uart_baud")
    @classmethod
    def _module_baud(cls, value: int) -> int:
        if value not in (9600, 115200, 460800):
            raise ValueError(f"{value} is not a GY-MCU90640 baud rate (9600, 115200, 460800)")
        return value


class I2cThermalConfig(_I2cBusKeys):
    backend: Literal["i2c"] = "i2c"     # MLX90640 on an I2C bus through smbus2


class MockThermalConfig(_Mlx90640Registers):
    backend: Literal["mock"] = "mock"   # simulated MLX90640 registers through a fake I2C bus (same driver as i2c)


class UartThermalConfig(_UartKeys):
    backend: Literal["uart"] = "uart"   # GY-MCU90640-style module over a serial port


class NoThermalConfig(_I2cBusKeys, _UartKeys):
    """No sensor: no frames, no temperature, no thermal liveness.

    The sensor is switched off rather than replaced, so the keys of the sensors may stay in the file
    (checked, not used) and one word turns it back on. The rig keeps a nominal MLX90640 so that
    calibration files stay alike."""

    accepts_other_backends_keys: ClassVar[bool] = True
    backend: Literal["none"] = "none"

    @property
    def subpage_hz(self) -> Optional[float]:
        return None


ThermalConfig = Annotated[Union[Annotated[I2cThermalConfig, Tag("i2c")], Annotated[UartThermalConfig, Tag("uart")],
                                Annotated[MockThermalConfig, Tag("mock")], Annotated[NoThermalConfig, Tag("none")]],
                          by_backend("i2c")]
