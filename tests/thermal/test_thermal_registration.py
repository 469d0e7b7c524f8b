"""Camera -> thermal registration: the model, the fit and its failure modes."""
from __future__ import annotations

import numpy as np
import pytest

from kiosk.thermal.geometry import Mount, Rig
from kiosk.thermal.registration import Registration, RegistrationError, fit_registration


def _points(count: int, rng: np.random.Generator, depths=(0.3, 1.2)) -> np.ndarray:
    depth = rng.uniform(*depths, count)
    return np.column_stack([rng.uniform(-0.25, 0.25, count) * depth, rng.uniform(-0.15, 0.15, count) * depth, depth])


def test_default_registration_is_exact_for_its_rig():
    rig = Rig.build(mount=Mount((0.04, -0.01, 0.005), (2.0, -1.5, 1.0)))
    points = _points(200, np.random.default_rng(0))
    mapped = Registration.from_rig(rig).to_thermal(rig.project_camera(points), points[:, 2])
    assert np.abs(mapped - rig.project_thermal(points)).max() < 1e-9


def test_parallax_shifts_near_faces_more():
    rig = Rig.build()   # sensor 30 mm to the camera's right
    registration = Registration.from_rig(rig)
    centre = np.array([[319.5, 239.5]])
    near, far = registration.to_thermal(centre, 0.3)[0], registration.to_thermal(centre, 3.0)[0]
    # A point on the camera axis appears left of the sensor's centre, the more so the nearer it is.
    assert near[0] < far[0] < 15.5
    assert far[0] - near[0] == pytest.approx(rig.thermal.fx * 0.03 * (1 / 0.3 - 1 / 3.0), rel=1e-6)


def test_fit_recovers_an_unknown_mount_from_noisy_pairs():
    truth = Rig.build(mount=Mount((0.036, 0.007, 0.0), (1.5, -1.0, 0.6)))
    rng = np.random.default_rng(1)
    points = _points(30, rng)
    camera = truth.project_camera(points)
    thermal = truth.project_thermal(points) + rng.normal(0, 0.03, (30, 2))
    fitted = fit_registration(camera, thermal, points[:, 2], Rig.build())
    assert fitted.source == "fitted" and fitted.pairs == 30
    assert fitted.residual_px < 0.06
    check = _points(100, rng)
    error = fitted.to_thermal(truth.project_camera(check), check[:, 2]) - truth.project_thermal(check)
    assert np.abs(error).max() < 0.1
    nominal_error = Registration.from_rig(Rig.build()).to_thermal(truth.project_camera(check), check[:, 2]) \
        - truth.project_thermal(check)
    assert np.abs(nominal_error).max() > 0.5        # so calibration matters for this mount


def test_one_distance_keeps_the_nominal_parallax():
    truth = Rig.build(mount=Mount((0.03, 0.0, 0.0), (1.0, 0.5, 0.0)))
    points = _points(12, np.random.default_rng(2), depths=(0.6, 0.6))
    fitted = fit_registration(truth.project_camera(points), truth.project_thermal(points), points[:, 2], Rig.build())
    assert fitted.residual_px < 1e-6
    assert np.allclose(fitted.parallax, Registration.from_rig(Rig.build()).parallax)


def test_too_few_pairs_or_bad_distances_are_refused():
    points = _points(5, np.random.default_rng(3))
    rig = Rig.build()
    with pytest.raises(RegistrationError, match="at least 6"):
        fit_registration(rig.project_camera(points), rig.project_thermal(points), points[:, 2], rig)
    points = _points(8, np.random.default_rng(3))
    with pytest.raises(RegistrationError, match="positive"):
        fit_registration(rig.project_camera(points), rig.project_thermal(points), -points[:, 2], rig)
