"""Camera pixel -> thermal pixel mapping: a homography plus a parallax term by distance.

For a point at depth d seen at camera pixel p (homogeneous), the sensor sees it at

    p_t ~ H p + e / d

where H = K_t R K_c^-1 is the homography of points at infinity and e = -K_t R b moves points by
the baseline b between the two optical centres, more so the closer they are. Both are fitted by
the calibration tools from pairs of a warm target seen by both sensors at several distances
(a linear, normalised DLT on 12 unknowns). Pairs at a single distance cannot tell H from e; the
fit then keeps e from the mount's nominal baseline and fits H alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Rig

MIN_PAIRS = 6
MIN_DEPTH_SPREAD_M = 0.15


class RegistrationError(ValueError):
    """The pairs cannot determine a registration."""


@dataclass(frozen=True)
class Registration:
    homography: np.ndarray        # (3, 3)
    parallax: np.ndarray          # (3,)
    residual_px: float | None     # RMS reprojection error of the fit in thermal pixels; None = not fitted
    pairs: int = 0
    source: str = "default"       # "default" (from the mount) or "fitted"

    @classmethod
    def from_rig(cls, rig: Rig) -> Registration:
        rot = rig.mount.rotation
        homography = rig.thermal.matrix @ rot @ np.linalg.inv(rig.camera.matrix)
        parallax = -rig.thermal.matrix @ rot @ np.asarray(rig.mount.offset_m, dtype=float)
        return cls(homography, parallax, None, 0, "default")

    def to_thermal(self, pixels: np.ndarray, distance_m: float | np.ndarray) -> np.ndarray:
        """(N, 2) camera pixels of points at depth `distance_m` -> (N, 2) thermal pixel coordinates."""
        pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
        homogeneous = np.column_stack([pixels, np.ones(len(pixels))])
        inverse_depth = 1.0 / np.asarray(distance_m, dtype=float).reshape(-1, 1)
        mapped = homogeneous @ self.homography.T + inverse_depth * self.parallax
        return mapped[:, :2] / mapped[:, 2:3]

    def scale(self, pixel: np.ndarray, distance_m: float) -> np.ndarray:
        """Local Jacobian (2x2) of the mapping at a camera pixel: thermal pixels per camera pixel."""
        step = 1.0
        base = np.asarray(pixel, dtype=float).reshape(1, 2)
        points = np.vstack([base, base + [step, 0], base + [0, step]])
        mapped = self.to_thermal(points, distance_m)
        return np.column_stack([mapped[1] - mapped[0], mapped[2] - mapped[0]]) / step


def _normaliser(points: np.ndarray) -> np.ndarray:
    """Hartley normalisation: centroid to the origin, mean distance sqrt(2)."""
    centre = points.mean(axis=0)
    spread = np.sqrt(((points - centre) ** 2).sum(axis=1)).mean()
    s = np.sqrt(2) / max(spread, 1e-12)
    return np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1]])


def fit_registration(camera_px: np.ndarray, thermal_px: np.ndarray, distance_m: np.ndarray,
                     rig: Rig) -> Registration:
    """Fit H and e to pairs (camera pixel, thermal pixel, depth) of a target seen by both sensors.

    `rig` supplies the nominal parallax when the depths do not spread enough to fit it.
    """
    camera_px = np.asarray(camera_px, dtype=float).reshape(-1, 2)
    thermal_px = np.asarray(thermal_px, dtype=float).reshape(-1, 2)
    distance_m = np.asarray(distance_m, dtype=float).reshape(-1)
    count = len(camera_px)
    if not (len(thermal_px) == len(distance_m) == count):
        raise RegistrationError("camera points, thermal points and distances differ in number")
    if count < MIN_PAIRS:
        raise RegistrationError(f"{count} pairs: at least {MIN_PAIRS} are needed, spread over the field of view")
    if np.any(distance_m <= 0):
        raise RegistrationError("every distance must be positive")

    t_cam, t_th = _normaliser(camera_px), _normaliser(thermal_px)
    p = np.column_stack([camera_px, np.ones(count)]) @ t_cam.T
    q = np.column_stack([thermal_px, np.ones(count)]) @ t_th.T
    inverse_depth = 1.0 / distance_m
    depth_scale = inverse_depth.mean()
    w = inverse_depth / depth_scale
    fit_parallax = np.ptp(distance_m) >= MIN_DEPTH_SPREAD_M

    nominal = Registration.from_rig(rig)
    if fit_parallax:
        # Rows of  q x (H' p + e'' w) = 0 : u (h3.p + e3 w) - (h1.p + e1 w) = 0 and the same for v.
        zeros = np.zeros((count, 3))
        rows_u = np.hstack([-p, zeros, q[:, :1] * p])
        rows_v = np.hstack([zeros, -p, q[:, 1:2] * p])
        par_u = np.column_stack([-w, np.zeros(count), q[:, 0] * w])
        par_v = np.column_stack([np.zeros(count), -w, q[:, 1] * w])
        system = np.vstack([np.hstack([rows_u, par_u]), np.hstack([rows_v, par_v])])
        _, _, vt = np.linalg.svd(system)
        solution = vt[-1]
        h_norm, e_norm = solution[:9].reshape(3, 3), solution[9:] / depth_scale
        homography = np.linalg.inv(t_th) @ h_norm @ t_cam
        parallax = np.linalg.inv(t_th) @ e_norm
    else:
        # e is known relative to H (h33 = 1): h1.p - u (h31 x + h32 y) = u (1 + e3/d) - e1/d, same for v.
        parallax = nominal.parallax / nominal.homography[2, 2]
        x, y = camera_px[:, 0], camera_px[:, 1]
        u, v = thermal_px[:, 0], thermal_px[:, 1]
        one, zero = np.ones(count), np.zeros(count)
        system = np.vstack([np.column_stack([x, y, one, zero, zero, zero, -u * x, -u * y]),
                            np.column_stack([zero, zero, zero, x, y, one, -v * x, -v * y])])
        rhs = np.concatenate([u * (1 + parallax[2] * inverse_depth) - parallax[0] * inverse_depth,
                              v * (1 + parallax[2] * inverse_depth) - parallax[1] * inverse_depth])
        solution, *_ = np.linalg.lstsq(system, rhs, rcond=None)
        homography = np.append(solution, 1.0).reshape(3, 3)
    scale = homography[2, 2] if abs(homography[2, 2]) > 1e-12 else 1.0
    homography, parallax = homography / scale, parallax / scale
    fitted = Registration(homography, parallax, None, count, "fitted")
    residual = float(np.sqrt(np.mean(np.sum((fitted.to_thermal(camera_px, distance_m) - thermal_px) ** 2, axis=1))))
    return Registration(homography, parallax, residual, count, "fitted")


def residuals(registration: Registration, camera_px: np.ndarray, thermal_px: np.ndarray,
              distance_m: np.ndarray) -> np.ndarray:
    """Per-pair reprojection error in thermal pixels."""
    mapped = registration.to_thermal(camera_px, distance_m)
    return np.sqrt(np.sum((mapped - np.asarray(thermal_px, dtype=float)) ** 2, axis=1))
