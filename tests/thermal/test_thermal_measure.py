"""Body temperature on simulated scenes, read through the MLX90640 mock bus and the real driver,
after calibrating on a simulated session (tests/thermal/conftest.py)."""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from thermal_helpers import ROOM_C, observe

from kiosk.config.temperature import TemperatureConfig
from kiosk.sim.thermal_scene import Subject, ThermalScene, project_face
from kiosk.thermal.measure import COME_CLOSER, NOT_IN_VIEW, STAND_STILL, FaceThermometer, measure

CONFIG = TemperatureConfig()
FRAME = (640, 480)


def _reading(sensor, scene, subject, calibration, config=CONFIG):
    scene.subjects = [subject]
    frame = sensor.read()
    return measure(frame, observe(project_face(scene.rig, subject)), FRAME, calibration, config)


@pytest.fixture(scope="module")
def scene(true_rig, calibrated, mock_driver):
    from calibration.simulate import BLACKBODY

    scene = ThermalScene(true_rig, ROOM_C, [], [BLACKBODY])
    sensor = mock_driver(scene)
    yield scene, sensor
    sensor.close()


def test_calibration_fitted_every_part(calibrated):
    assert calibrated.registration.source == "fitted" and calibrated.registration.residual_px < 0.1
    assert calibrated.distance.residual_c < 0.15 and calibrated.distance.range_m == (0.3, 1.1)
    assert calibrated.ambient.ta_offset_c == pytest.approx(8.0, abs=0.1)
    assert calibrated.blackbody is not None


def test_within_0_3_c_from_0_3_to_1_0_m(scene, calibrated):
    scene, sensor = scene
    errors = []
    for distance, body, (lateral, height) in itertools.product(
            (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), (36.2, 37.0, 37.6, 38.5, 39.5),
            ((0.0, 0.0), (-0.06, 0.03), (0.07, -0.04))):
        subject = Subject(distance, lateral * distance / 0.5, height * distance / 0.5, body_c=body)
        reading = _reading(sensor, scene, subject, calibrated)
        assert reading.quality >= CONFIG.min_quality, (distance, reading)
        assert reading.reason is None
        assert reading.distance_m == pytest.approx(distance, abs=0.01)
        errors.append(reading.body_c - body)
        assert abs(reading.body_c - body) <= 0.3, (subject, reading)
    print(f"mean {np.mean(errors):+.3f} C, MAE {np.mean(np.abs(errors)):.3f} C, worst {np.max(np.abs(errors)):.3f} C")


def test_masked_faces_measure_the_same(scene, calibrated):
    scene, sensor = scene
    for distance in (0.4, 0.7, 1.0):
        reading = _reading(sensor, scene, Subject(distance, body_c=38.0, masked=True), calibrated)
        assert abs(reading.body_c - 38.0) <= 0.3


@pytest.mark.parametrize("distance", [1.2, 1.5, 2.0])
def test_beyond_the_supported_distance_is_low_quality_not_wrong(scene, calibrated, distance):
    scene, sensor = scene
    reading = _reading(sensor, scene, Subject(distance, body_c=38.5), calibrated)
    assert reading.quality < CONFIG.min_quality
    assert reading.reason == COME_CLOSER


def test_blackbody_takes_sensor_drift_off(scene, calibrated):
    scene, sensor = scene
    subject = Subject(0.6, body_c=37.0)
    try:
        sensor.drift_c = 1.2
        corrected = _reading(sensor, scene, subject, calibrated)
        uncorrected = _reading(sensor, scene, subject, replace(calibrated, blackbody=None))
    finally:
        sensor.drift_c = 0.0
    assert abs(corrected.body_c - 37.0) <= 0.3
    assert uncorrected.body_c - 37.0 > 0.6


def test_blocked_blackbody_is_not_taken_for_drift(scene, calibrated):
    scene, sensor = scene
    emitters = scene.emitters
    try:
        scene.emitters = []          # the reference switched off (or a head in front of it)
        reading = _reading(sensor, scene, Subject(0.6, body_c=37.0), calibrated)
    finally:
        scene.emitters = emitters
    assert abs(reading.body_c - 37.0) <= 0.3


def test_face_outside_the_thermal_view(scene, calibrated):
    scene, sensor = scene
    # Far to the side: inside the camera's 62 degree view, outside the sensor's 55 degrees.
    reading = _reading(sensor, scene, Subject(0.5, lateral_m=0.3), calibrated)
    assert reading.quality < CONFIG.min_quality
    assert reading.reason == NOT_IN_VIEW


def test_moving_face_asks_to_stand_still(scene, calibrated):
    scene, sensor = scene
    thermometer = FaceThermometer(calibrated, CONFIG)
    readings = []
    for lateral in (0.0, 0.0, 0.05, 0.10):        # still, still, then walking sideways 5 cm per frame
        subject = Subject(0.5, lateral_m=lateral, body_c=37.0)
        scene.subjects = [subject]
        readings.append(thermometer.measure(sensor.read(), observe(project_face(scene.rig, subject)), FRAME))
    assert readings[1].quality >= CONFIG.min_quality and readings[1].reason is None
    assert readings[3].reason == STAND_STILL and readings[3].quality < CONFIG.min_quality


def test_quarter_resolution_camera_frames_map_the_same(scene, calibrated):
    scene, sensor = scene
    subject = Subject(0.6, body_c=38.0)
    scene.subjects = [subject]
    frame = sensor.read()
    face = project_face(scene.rig, subject)
    small = observe(replace(face, box=tuple(v / 2 for v in face.box), keypoints=face.keypoints / 2))
    full = measure(frame, observe(face), FRAME, calibrated, CONFIG)
    half = measure(frame, small, (320, 240), calibrated, CONFIG)
    assert half.body_c == pytest.approx(full.body_c, abs=0.02)
