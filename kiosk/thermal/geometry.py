"""The rig: an RGB camera and a thermal sensor (an MLX90640) mounted next to it, as pinhole models.

Coordinates are the camera's (OpenCV convention): x to the image right, y down, z forward,
metres. Pixel coordinates put the centre of pixel (col, row) at (col, row), so a thermal image of
cols x rows pixels spans -0.5..cols-0.5 by -0.5..rows-0.5. Its size and field of view are the
sensor driver's (`ThermalGeometry`). The thermal image is taken to be upright and
unmirrored like the camera image; a sensor mounted otherwise is absorbed by a fitted
registration (a homography can mirror and rotate).

"Distance" everywhere means depth along the camera axis (z), which is what a face's size in
the image tells.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from drivers.mlx90640.lens import mlx90640_geometry
from drivers.thermal.base import ThermalGeometry

# Nominal adult face: inter-ocular distance between the BlazeFace eye keypoints (pupil centres)
# and the width of the BlazeFace box, which spans roughly ear to ear at eye level.
NOMINAL_IOD_M = 0.063
NOMINAL_BOX_WIDTH_M = 0.1575


@dataclass(frozen=True)
class Pinhole:
    """A pinhole camera of `width` x `height` pixels with the given fields of view."""

    width: int
    height: int
    fx: float
    fy: float

    @classmethod
    def from_fov(cls, width: int, height: int, horizontal_fov_deg: float,
                 vertical_fov_deg: float | None = None) -> Pinhole:
        """Square pixels unless the vertical field of view is given too."""
        fx = (width / 2) / math.tan(math.radians(horizontal_fov_deg) / 2)
        fy = fx if vertical_fov_deg is None else (height / 2) / math.tan(math.radians(vertical_fov_deg) / 2)
        return cls(width, height, fx, fy)

    @property
    def fov_deg(self) -> tuple[float, float]:
        """(horizontal, vertical) field of view in degrees."""
        return (math.degrees(2 * math.atan(self.width / 2 / self.fx)),
                math.degrees(2 * math.atan(self.height / 2 / self.fy)))

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2

    @property
    def cy(self) -> float:
        return (self.height - 1) / 2

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=float)

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points in this camera's frame -> (N, 2) pixel coordinates."""
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        z = points[:, 2]
        return np.stack([self.fx * points[:, 0] / z + self.cx, self.fy * points[:, 1] / z + self.cy], axis=1)

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates -> (N, 3) ray directions with z = 1."""
        pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
        return np.stack([(pixels[:, 0] - self.cx) / self.fx, (pixels[:, 1] - self.cy) / self.fy,
                         np.ones(len(pixels))], axis=1)


def rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Rotation of the sensor relative to the camera: yaw about y, pitch about x, roll about z."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class Mount:
    """Where the thermal sensor sits relative to the camera.

    offset_m: sensor position in camera coordinates (default 3 cm to the camera's right, side by side).
    rotation_deg: (yaw, pitch, roll) of the sensor relative to the camera.
    """

    offset_m: tuple[float, float, float] = (0.03, 0.0, 0.0)
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def rotation(self) -> np.ndarray:
        return rotation(*self.rotation_deg)


@dataclass(frozen=True)
class Rig:
    camera: Pinhole
    thermal: Pinhole
    mount: Mount = field(default_factory=Mount)

    @classmethod
    def build(cls, camera_width: int = 640, camera_height: int = 480, camera_hfov_deg: float = 62.2,
              thermal: ThermalGeometry | None = None, mount: Mount | None = None) -> Rig:
        """`thermal`: the sensor's geometry (default: a standard-lens MLX90640, the kiosk's sensor)."""
        sensor = thermal or mlx90640_geometry()
        camera = Pinhole.from_fov(camera_width, camera_height, camera_hfov_deg)
        return cls(camera, Pinhole.from_fov(sensor.cols, sensor.rows, *sensor.fov_deg), mount or Mount())

    @property
    def thermal_geometry(self) -> ThermalGeometry:
        """The thermal sensor this rig models: its frames must have this shape."""
        return ThermalGeometry(self.thermal.height, self.thermal.width, self.thermal.fov_deg)

    def to_thermal_frame(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame points -> the same points in the sensor's frame."""
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        return (points - np.asarray(self.mount.offset_m)) @ self.mount.rotation.T

    def project_camera(self, points: np.ndarray) -> np.ndarray:
        return self.camera.project(points)

    def project_thermal(self, points: np.ndarray) -> np.ndarray:
        return self.thermal.project(self.to_thermal_frame(points))

    def thermal_rays(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rays through thermal pixel coordinates, in camera coordinates: (origin (3,), directions (N, 3))."""
        directions = self.thermal.rays(pixels) @ self.mount.rotation  # R^T applied to row vectors
        return np.asarray(self.mount.offset_m, dtype=float), directions

    def face_distance(self, iod_px: float | None, box_width_px: float,
                      iod_m: float = NOMINAL_IOD_M, box_width_m: float = NOMINAL_BOX_WIDTH_M) -> float:
        """Depth of a face from its size in the camera image.

        The eye distance is the steadier measure (box widths vary with the detector's crop), so it is
        used when the eyes are found and the face is not turned far (eye distance at least 30 % of the
        box width); otherwise the box width.
        """
        if iod_px is not None and iod_px > 0.3 * box_width_px:
            return self.camera.fx * iod_m / iod_px
        return self.camera.fx * box_width_m / max(box_width_px, 1e-6)
