"""Fixtures for the thermal tests: a simulated rig, calibrated once per session through the MLX90640
mock bus and the real driver (drivers.mlx90640)."""
from __future__ import annotations

import pytest
from thermal_helpers import ROOM_C, TRUE_MOUNT

from kiosk.config import KioskConfig
from kiosk.thermal.calibration import Calibration, rig_from_config
from kiosk.thermal.geometry import Rig


@pytest.fixture(scope="session")
def true_rig() -> Rig:
    nominal = rig_from_config(KioskConfig())
    return Rig(nominal.camera, nominal.thermal, TRUE_MOUNT)


@pytest.fixture(scope="session")
def mock_driver():
    """The MLX90640 mock bus and driver; skips until drivers/mlx90640 provides them."""
    pytest.importorskip("drivers.mlx90640.mock", reason="drivers/mlx90640 mock bus not available yet")
    pytest.importorskip("drivers.mlx90640.sensor", reason="drivers/mlx90640 driver not available yet")
    from calibration.simulate import MockThermalSensor

    return MockThermalSensor


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory, true_rig, mock_driver):
    """A simulated calibration session (with a blackbody in view), captured once."""
    from calibration.simulate import BLACKBODY, Session, simulate

    directory = tmp_path_factory.mktemp("captures")
    simulate(directory, Session(true_rig, ROOM_C, BLACKBODY))
    return directory


@pytest.fixture(scope="session")
def calibrated(session_dir) -> Calibration:
    from calibration import captures
    from calibration.fit import fit_captures

    base = Calibration.default(rig_from_config(KioskConfig()))
    return fit_captures(captures.load_all(session_dir), base).calibration
