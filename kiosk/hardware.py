"""Build the configured devices: real drivers, or mocks fed by the scene simulator."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from drivers.camera.base import Camera
from drivers.thermal.base import ThermalSensor

from .config import KioskConfig
from .config.camera import CameraBackend
from .config.thermal import ThermalBackend
from .sim.world import SimWorld

if TYPE_CHECKING:
    from drivers.mlx90640.i2c import I2cBus


def needs_simulator(config: KioskConfig) -> bool:
    return config.camera.backend == CameraBackend.mock or config.thermal.backend == ThermalBackend.mock


def build_camera(config: KioskConfig, world: Optional[SimWorld]) -> Camera:
    cam = config.camera
    if cam.backend == CameraBackend.mock:
        from drivers.camera.mock import MockCamera

        assert world is not None, "the mock camera needs the simulator"
        return MockCamera(world.render_camera, fps=cam.fps)
    from drivers.camera.opencv import OpenCVCamera

    return OpenCVCamera(cam.device, cam.width, cam.height, cam.fps, cam.mirror)


def build_thermal(config: KioskConfig, world: Optional[SimWorld]) -> Optional[ThermalSensor]:
    """The thermal sensor, or None when `thermal.backend = "none"`."""
    t = config.thermal
    if t.backend == ThermalBackend.none:
        return None
    if t.backend == ThermalBackend.uart:
        from drivers.thermal.mlx90640_uart import Mlx90640UartSensor

        return Mlx90640UartSensor(t.uart_port, t.uart_baud, emissivity=t.emissivity)
    from drivers.thermal.mlx90640_i2c import Mlx90640I2CSensor

    if t.backend == ThermalBackend.mock:
        from drivers.mlx90640.mock import MockMlx90640Bus

        assert world is not None, "the mock thermopile needs the simulator"
        # The simulated sensor sees the same emissivity as the driver assumes (a real face's is ~0.98).
        bus: int | I2cBus = MockMlx90640Bus(world.thermal, emissivity=t.emissivity, reflected_c=t.reflected_c)
    else:
        bus = t.i2c_bus
    return Mlx90640I2CSensor(bus, t.i2c_address, refresh_hz=t.refresh_hz, adc_resolution=t.adc_resolution,
                             mode=str(t.mode), chunk_words=t.i2c_chunk_words, emissivity=t.emissivity,
                             reflected_c=t.reflected_c, max_errors_before_degraded=t.max_errors_before_degraded)
