"""The thermal scene renderer: geometry agrees with the camera projection, dilution, attacks."""
from __future__ import annotations

import numpy as np

from kiosk.sim.thermal_scene import Emitter, Subject, ThermalScene, project_face, render_thermal, subject_for
from kiosk.sim.walkups import Presentation, Script
from kiosk.thermal.geometry import Rig
from kiosk.thermal.registration import Registration
from kiosk.thermal.skin_core import MODEL


def test_warm_face_lands_where_the_registration_maps_the_camera_face():
    rig = Rig.build()
    for subject in (Subject(0.4, 0.05, 0.03), Subject(0.8, -0.15, -0.05)):
        image = render_thermal(rig, [subject], 22.0)
        face = project_face(rig, subject)
        eyes = face.keypoints[:2].mean(axis=0)
        col, row = Registration.from_rig(rig).to_thermal(eyes, subject.distance_m)[0]
        assert image[int(round(row)), int(round(col))] > 33.0      # skin between the eyes
        warm_rows, warm_cols = np.nonzero(image > 30.0)
        assert warm_cols.min() <= col <= warm_cols.max()


def test_small_faces_are_diluted_and_area_is_conserved():
    rig = Rig.build()
    near = render_thermal(rig, [Subject(0.3)], 22.0)
    far = render_thermal(rig, [Subject(1.5)], 22.0)
    canthus, _ = MODEL.skin(36.8, 22.0)
    assert far.max() < near.max() < canthus        # the canthus is smaller than a pixel even at 30 cm
    # Area averaging keeps the total rise of a lone emitter whatever its sub-pixel position.
    totals = [(render_thermal(rig, [], 20.0, [Emitter(x, 0.0, 1.0, 0.05, 40.0, disc=True)]) - 20.0).sum()
              for x in (0.0, 0.004, 0.011)]
    assert np.ptp(totals) < 0.02 * np.mean(totals)


def test_attacks_are_not_warm_faces():
    rig = Rig.build()
    photo = render_thermal(rig, [Subject(0.5, presentation=Presentation.photo)], 22.0)
    centre = Registration.from_rig(rig).to_thermal(project_face(rig, Subject(0.5)).keypoints[:2].mean(axis=0), 0.5)[0]
    assert photo[int(round(centre[1])), int(round(centre[0]))] < 23.0
    screen = render_thermal(rig, [Subject(0.5, presentation=Presentation.screen, surface_c=33.0,
                                          surface_m=(0.17, 0.24))], 22.0)
    patch = screen[int(centre[1]) - 2:int(centre[1]) + 3, int(centre[0]) - 2:int(centre[0]) + 3]
    assert np.ptp(patch) < 0.3


def test_scene_is_the_mock_bus_scene_callable_and_follows_the_walkups():
    scene = ThermalScene(Rig.build(), 24.0, [Subject(0.6, masked=True)])
    temperatures, die_c = scene(0.0)
    assert temperatures.shape == (24, 32) and temperatures.dtype == np.float32 and die_c == 32.0
    state = Script.from_names(["photo"]).at(3.0)
    assert subject_for(state).presentation == Presentation.photo
    scene.move(0, distance_m=0.9)
    assert scene.faces()[0].distance_m == 0.9
