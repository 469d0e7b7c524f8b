"""Thermal liveness on simulated scenes through the MLX90640 mock bus and the real driver: every live
face accepted, every printed photo and screen refused, over distances, room temperatures and masks."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from thermal_helpers import observe

from kiosk.config.temperature import LivenessConfig
from kiosk.sim.thermal_scene import Subject, ThermalScene, project_face
from kiosk.sim.walkups import Presentation
from kiosk.thermal.geometry import NOMINAL_BOX_WIDTH_M
from kiosk.thermal.liveness import check

CONFIG = LivenessConfig()


@pytest.fixture(scope="module")
def look(true_rig, calibrated, mock_driver):
    from calibration.simulate import BLACKBODY

    scene = ThermalScene(true_rig, 22.0, [], [BLACKBODY])
    sensor = mock_driver(scene)

    def look(subject: Subject, room_c: float):
        scene.room_c = room_c
        scene.subjects = [subject]
        frame = sensor.read()
        return check(frame, observe(project_face(true_rig, subject)), (640, 480), calibrated, CONFIG)

    yield look
    sensor.close()


def test_every_live_face_is_accepted(look):
    rng = np.random.default_rng(5)
    for distance, room, masked in itertools.product((0.3, 0.45, 0.6, 0.8, 1.0), (18.0, 22.0, 26.0, 30.0),
                                                    (False, True)):
        subject = Subject(distance, rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04),
                          face_width_m=rng.uniform(0.15, 0.17), body_c=rng.uniform(36.0, 39.5), masked=masked)
        result = look(subject, room)
        assert result is not None and result.live, (subject, room, result)
        assert result.reason == "warm skin" and result.score >= CONFIG.min_score


ATTACKS = {
    # name: (presentation, shown face width, surface size, surface temperature above room or absolute)
    "printed photo": (Presentation.photo, 0.1575, (0.148, 0.21), ("room", 0.3)),
    "photo warmed in the hand": (Presentation.photo, 0.1575, (0.148, 0.21), ("room", 3.0)),
    "tablet": (Presentation.screen, 0.14, (0.17, 0.24), ("room", 5.0)),
    "hot tablet": (Presentation.screen, 0.14, (0.17, 0.24), ("abs", 35.0)),
    "phone held close": (Presentation.screen, 0.06, (0.075, 0.155), ("abs", 34.0)),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_photo_and_screen_is_refused(look, attack):
    presentation, face_width, surface, (kind, value) = ATTACKS[attack]
    distances = (0.2, 0.25, 0.3) if face_width < 0.1 else (0.3, 0.45, 0.6, 0.8, 1.0)
    for distance, room in itertools.product(distances, (18.0, 22.0, 30.0)):
        surface_c = room + value if kind == "room" else value
        subject = Subject(distance, 0.02, 0.0, face_width_m=face_width, presentation=presentation,
                          surface_m=surface, surface_c=surface_c)
        result = look(subject, room)
        if distance * NOMINAL_BOX_WIDTH_M / face_width > 1.05:
            # The face looks farther than the supported 1 m: no verdict ("come closer"), never "live".
            assert result is None or not result.live, (attack, distance, room, result)
            continue
        assert result is not None, (attack, distance, room)
        assert not result.live, (attack, distance, room, result)
        assert result.score < CONFIG.min_score and result.reason != "warm skin"


def test_far_faces_get_no_verdict_yet(look):
    assert look(Subject(1.4, body_c=36.8), 22.0) is None                      # come closer first
    photo = Subject(1.4, presentation=Presentation.photo, surface_c=22.3)
    result = look(photo, 22.0)
    assert result is None or not result.live                                  # a cold photo may be refused at once


def test_face_outside_the_thermal_view_gets_no_verdict(look):
    assert look(Subject(0.5, lateral_m=0.3), 22.0) is None
