"""A ThermalFrame carries its sensor's resolution and field of view, and everything downstream (rig,
measurement regions, simulator, calibration file) is sized from it rather than from 24x32."""
from __future__ import annotations

import json

import numpy as np
import pytest
from thermal_helpers import observe

from drivers.mlx90640.mock import MockMlx90640Bus
from drivers.thermal.base import ThermalFrame, ThermalGeometry
from drivers.thermal.mlx90640_i2c import Mlx90640I2CSensor
from kiosk.config import parse_config
from kiosk.config.temperature import TemperatureConfig
from kiosk.sim.thermal_scene import Subject, project_face, render_thermal
from kiosk.thermal.calibration import Calibration, CalibrationError, calibration_for_config, load, rig_from_config, save
from kiosk.thermal.compensation import Blackbody
from kiosk.thermal.geometry import Rig
from kiosk.thermal.measure import measure

SMALL = ThermalGeometry(12, 16, (40.0, 30.0))     # a made-up sensor: half an MLX90640's pixels, narrower lens


@pytest.mark.parametrize("lens, fov", [("55x35", (55.0, 35.0)), ("110x75", (110.0, 75.0))])
def test_mlx90640_frames_carry_its_lens(lens, fov) -> None:
    bus = MockMlx90640Bus(lambda t: (np.full((24, 32), 30.0), 30.0))
    sensor = Mlx90640I2CSensor(bus, refresh_hz=64, lens=lens)
    assert sensor.geometry == ThermalGeometry(24, 32, fov)       # known before the sensor is opened
    with sensor:
        frame = sensor.read(timeout=2.0)
    assert frame.resolution == (24, 32) and frame.fov_deg == fov and frame.temperatures.shape == frame.resolution


def test_a_frame_must_have_its_sensors_shape() -> None:
    with pytest.raises(ValueError, match=r"shape \(24, 32\) from a sensor of 12x16 pixels"):
        ThermalFrame(np.zeros((24, 32), np.float32), 25.0, 0.0, 1, geometry=SMALL)
    with pytest.raises(ValueError, match="impossible thermal geometry"):
        ThermalGeometry(0, 32, (55.0, 35.0))
    with pytest.raises(ValueError, match="lens '60x40' must be one of 55x35, 110x75"):
        Mlx90640I2CSensor(MockMlx90640Bus(lambda t: (np.full((24, 32), 30.0), 30.0)), lens="60x40")


def test_the_rig_follows_the_configured_sensor() -> None:
    config = parse_config({"temperature": {"sensor_fov": "110x75"}})
    assert config.thermal_geometry == ThermalGeometry(24, 32, (110.0, 75.0))
    rig = rig_from_config(config)
    assert rig.thermal_geometry.resolution == (24, 32)
    assert rig.thermal_geometry.fov_deg == pytest.approx((110.0, 75.0))


def test_another_sensor_size_runs_through_the_whole_thermal_path() -> None:
    rig = Rig.build(thermal=SMALL)
    subject = Subject(0.5)
    image = render_thermal(rig, [subject], 22.0)
    assert image.shape == (12, 16)
    calibration = Calibration.default(rig)
    frame = ThermalFrame(image, 30.0, 0.0, 1, geometry=SMALL)
    reading = measure(frame, observe(project_face(rig, subject)), (640, 480), calibration, TemperatureConfig())
    assert reading.distance_m == pytest.approx(0.5, abs=0.1) and reading.skin_c is not None
    mlx_frame = ThermalFrame(np.full((24, 32), 22.0, np.float32), 30.0, 0.0, 2,
                             geometry=ThermalGeometry(24, 32, (55.0, 35.0)))
    with pytest.raises(ValueError, match="24x32 thermal frame cannot be measured with a calibration for 12x16"):
        measure(mlx_frame, observe(project_face(rig, subject)), (640, 480), calibration, TemperatureConfig())


def test_the_calibration_file_records_the_sensor_size(tmp_path) -> None:
    path = tmp_path / "calibration.json"
    save(Calibration.default(Rig.build(thermal=SMALL)).with_changes(blackbody=Blackbody((1, 12, 3, 15), 35.0, 34.8)),
         path)
    loaded = load(path)
    assert loaded.rig.thermal_geometry.resolution == (12, 16)
    assert loaded.rig.thermal_geometry.fov_deg == pytest.approx((40.0, 30.0))
    config = parse_config({"device": {"state_dir": str(tmp_path)}, "temperature": {"calibration_file": str(path)}})
    with pytest.raises(CalibrationError, match="made for a thermal sensor of 12x16 pixels, but thermal.backend = i2c "
                                               "gives 24x32: recalibrate"):
        calibration_for_config(config)

    document = json.loads(path.read_text())
    document["blackbody"]["region"] = [1, 12, 3, 17]
    path.write_text(json.dumps(document))
    with pytest.raises(CalibrationError, match=r"blackbody.region = \[1, 12, 3, 17\].*\(12x16\)"):
        load(path)

    del document["rig"]["thermal"]["rows"], document["rig"]["thermal"]["cols"]   # a file from before: an MLX90640
    document["blackbody"] = None
    path.write_text(json.dumps(document))
    assert load(path).rig.thermal_geometry.resolution == (24, 32)
