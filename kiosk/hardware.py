"""Build the configured devices: one registry per kind of device, from `backend` to a factory.

Every factory takes its table of the configuration (the class of its backend, kiosk/config) and a
`BuildContext`, and imports its driver itself, so that only the configured driver's dependencies
load (gpiod, pyserial, OpenCV). A new backend is a driver file, its configuration class, and one
`@REGISTRY.register("name")` factory here (docs/adding-a-backend.md).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

import numpy as np

from drivers.camera.base import Camera
from drivers.registry import Registry
from drivers.relay.base import Relay
from drivers.thermal.base import ThermalSensor

from .config import KioskConfig
from .config.camera import MockCameraConfig, OpenCVCameraConfig
from .config.gate import GpioGateConfig, MockGateConfig, SerialGateConfig
from .config.thermal import I2cThermalConfig, MockThermalConfig, NoThermalConfig, UartThermalConfig

if TYPE_CHECKING:
    from drivers.camera.mock import Timebase
    from drivers.gpio_inputs import GpioInputs
    from drivers.mlx90640.i2c import I2cBus


MOCK_STATE_FILE = "relay-mock.json"


class Scene(Protocol):
    """What the mock devices sample of the scene simulator (kiosk.sim.world.SimWorld, a layer above, passed in)."""

    @property
    def clock(self) -> Timebase: ...       # kiosk.sim.clock.PacedClock: the mock devices' time

    def render_camera(self, now: float, /) -> np.ndarray: ...

    def thermal(self, bus_time: float, /) -> tuple[np.ndarray, float]: ...

    def thermal_reader_time(self) -> tuple[Callable[[], float], Callable[[float], None]]: ...


@dataclass(frozen=True)
class BuildContext:
    """What factories may need besides their own table."""

    config: KioskConfig
    world: Optional[Scene] = None                         # the scene simulator, for mock devices
    request_lines: Optional[Callable[..., Any]] = None    # replaces gpiod.request_lines (tests' fake chip)


CameraFactory = Callable[[Any, BuildContext], Camera]
ThermalFactory = Callable[[Any, BuildContext], Optional[ThermalSensor]]
RelayFactory = Callable[[Any, BuildContext], Relay]
InputsFactory = Callable[[Any, BuildContext], "GpioInputs"]

CAMERAS: Registry[CameraFactory] = Registry("camera", "camera.backend")
THERMAL_SENSORS: Registry[ThermalFactory] = Registry("thermal sensor", "thermal.backend")
RELAYS: Registry[RelayFactory] = Registry("relay", "gate.backend")
INPUTS: Registry[InputsFactory] = Registry("door inputs", "gate.inputs_backend")

def needs_simulator(config: KioskConfig) -> bool:
    return config.camera.backend == "mock" or config.thermal.backend == "mock"


def build_camera(config: KioskConfig, world: Optional[Scene]) -> Camera:
    return CAMERAS.get(config.camera.backend)(config.camera, BuildContext(config, world))


def build_thermal(config: KioskConfig, world: Optional[Scene]) -> Optional[ThermalSensor]:
    """The thermal sensor (not opened), or None when `thermal.backend = "none"`."""
    return THERMAL_SENSORS.get(config.thermal.backend)(config.thermal, BuildContext(config, world))


def build_relay(config: KioskConfig, *, request_lines: Optional[Callable[..., Any]] = None) -> Relay:
    """The relay named by [gate] (not opened). `request_lines` replaces `gpiod.request_lines` in tests."""
    return RELAYS.get(config.gate.backend)(config.gate, BuildContext(config, request_lines=request_lines))


def build_inputs(config: KioskConfig, *, request_lines: Optional[Callable[..., Any]] = None) -> Optional[GpioInputs]:
    """The door inputs named by [gate], or None when neither line is configured."""
    gate = config.gate
    if gate.door_contact_line is None and gate.exit_button_line is None:
        return None
    return INPUTS.get(gate.inputs_backend)(gate, BuildContext(config, request_lines=request_lines))


def mock_state_path(config: KioskConfig) -> Path:
    return config.state_dir / MOCK_STATE_FILE


# Cameras -----------------------------------------------------------------------------------------
@CAMERAS.register("opencv")
def _opencv_camera(cam: OpenCVCameraConfig, context: BuildContext) -> Camera:
    from drivers.camera.opencv import OpenCVCamera

    return OpenCVCamera(cam.device, cam.width, cam.height, cam.fps, cam.mirror)


@CAMERAS.register("mock")
def _mock_camera(cam: MockCameraConfig, context: BuildContext) -> Camera:
    from drivers.camera.mock import MockCamera

    assert context.world is not None, "the mock camera needs the simulator"
    return MockCamera(context.world.render_camera, fps=cam.fps, timebase=context.world.clock)


# Thermal sensors ---------------------------------------------------------------------------------
def _lens(context: BuildContext) -> str:
    return context.config.temperature.sensor_fov.value


def _mlx90640_on_i2c(t: I2cThermalConfig | MockThermalConfig, bus: int | I2cBus, context: BuildContext,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> ThermalSensor:
    from drivers.thermal.mlx90640_i2c import Mlx90640I2CSensor

    return Mlx90640I2CSensor(bus, t.i2c_address, refresh_hz=t.refresh_hz, adc_resolution=t.adc_resolution,
                             mode=str(t.mode), chunk_words=t.i2c_chunk_words, emissivity=t.emissivity,
                             reflected_c=t.reflected_c, max_errors_before_degraded=t.max_errors_before_degraded,
                             lens=_lens(context), clock=clock, sleep=sleep)


@THERMAL_SENSORS.register("i2c")
def _i2c_thermal(t: I2cThermalConfig, context: BuildContext) -> ThermalSensor:
    return _mlx90640_on_i2c(t, t.i2c_bus, context)


@THERMAL_SENSORS.register("mock")
def _mock_thermal(t: MockThermalConfig, context: BuildContext) -> ThermalSensor:
    from drivers.mlx90640.mock import MockMlx90640Bus

    world = context.world
    assert world is not None, "the mock thermopile needs the simulator"
    # The simulated sensor sees the same emissivity as the driver assumes (a real face's is ~0.98). The device
    # measures on the simulator's clock, and the driver reads it on that clock too (its looks keep the scene going).
    clock, sleep = world.thermal_reader_time()
    bus = MockMlx90640Bus(world.thermal, emissivity=t.emissivity, reflected_c=t.reflected_c, clock=world.clock.now)
    return _mlx90640_on_i2c(t, bus, context, clock, sleep)


@THERMAL_SENSORS.register("uart")
def _uart_thermal(t: UartThermalConfig, context: BuildContext) -> ThermalSensor:
    from drivers.thermal.mlx90640_uart import Mlx90640UartSensor

    return Mlx90640UartSensor(t.uart_port, t.uart_baud, emissivity=t.emissivity, lens=_lens(context))


@THERMAL_SENSORS.register("none")
def _no_thermal(t: NoThermalConfig, context: BuildContext) -> None:
    return None


# Relays ------------------------------------------------------------------------------------------
@RELAYS.register("gpio")
def _gpio_relay(gate: GpioGateConfig, context: BuildContext) -> Relay:
    from drivers.relay.gpio import GpioRelay

    return GpioRelay(gate.gpio_chip, gate.gpio_line, active_low=gate.active_low, request_lines=context.request_lines)


@RELAYS.register("serial")
def _serial_relay(gate: SerialGateConfig, context: BuildContext) -> Relay:
    from drivers.relay.serial_board import SerialRelay

    return SerialRelay(gate.serial_port, baud=gate.serial_baud, channel=gate.relay_channel)


@RELAYS.register("mock")
def _mock_relay(gate: MockGateConfig, context: BuildContext) -> Relay:
    from drivers.relay.mock import MockRelay

    return MockRelay(mock_state_path(context.config))


# Door inputs -------------------------------------------------------------------------------------
@INPUTS.register("gpio")
def _gpio_inputs(gate: Any, context: BuildContext) -> GpioInputs:
    from drivers.gpio_inputs import GpioInputs

    return GpioInputs(gate.gpio_chip, door_line=gate.door_contact_line, exit_line=gate.exit_button_line,
                      active_low=gate.inputs_active_low, debounce_s=gate.input_debounce_ms / 1000,
                      request_lines=context.request_lines)
