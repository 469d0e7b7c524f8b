"""A camera face (box + BlazeFace keypoints) mapped onto the thermal grid as measurement regions.

Each region is an ellipse drawn in camera pixels from the keypoints, carried into the thermal
image by the registration at the face's distance (centre mapped exactly, axes through the local
Jacobian), and rasterised as coverage: the fraction of each of the sensor's pixels it fills, found
by supersampling every pixel. Coverage is what lets the measurement use only the pixels the face
really fills and undo the dilution of the others.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..types import FaceObservation
from .calibration import Calibration

EYE_L, EYE_R, NOSE, MOUTH = 0, 1, 2, 3
SUBSAMPLE = 6
INNER_CANTHUS = 0.27   # inner canthus: this fraction of the eye distance from a pupil towards the other


@lru_cache(maxsize=4)
def _subsamples(n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    offsets = (np.arange(SUBSAMPLE) + 0.5) / SUBSAMPLE - 0.5
    cols = (np.arange(n_cols)[:, None] + offsets).ravel()
    rows = (np.arange(n_rows)[:, None] + offsets).ravel()
    return np.meshgrid(cols, rows)


@dataclass(frozen=True)
class Ellipse:
    """centre (2,) and axes (2x2, columns are the semi-axis vectors), in some pixel space."""

    centre: np.ndarray
    axes: np.ndarray

    def coverage(self, resolution: tuple[int, int]) -> np.ndarray:
        """(rows, cols) = `resolution`: the fraction of each thermal pixel inside this (thermal-space) ellipse."""
        n_rows, n_cols = resolution
        cols, rows = _subsamples(n_rows, n_cols)
        inverse = np.linalg.inv(self.axes)
        du, dv = cols - self.centre[0], rows - self.centre[1]
        u = inverse[0, 0] * du + inverse[0, 1] * dv
        v = inverse[1, 0] * du + inverse[1, 1] * dv
        inside = (u * u + v * v <= 1.0).astype(np.float32)
        return inside.reshape(n_rows, SUBSAMPLE, n_cols, SUBSAMPLE).mean(axis=(1, 3))

    @property
    def area(self) -> float:
        return float(np.pi * abs(np.linalg.det(self.axes)))


@dataclass(frozen=True)
class FaceRoi:
    distance_m: float
    centre: np.ndarray        # face centre in thermal pixels
    face: np.ndarray          # coverage of the skin of the face (forehead to chin, cheek to cheek)
    head: np.ndarray          # coverage of the whole head with hair, enlarged: outside it is background
    ring: np.ndarray          # coverage of a wider ellipse around the head: its part outside `head` is the
                              # local background the face's edge pixels are mixed with
    canthi: np.ndarray        # coverage of the two inner-canthus regions
    canthi_points: np.ndarray  # (2, 2) the two inner canthi in thermal pixels
    forehead: np.ndarray
    nose: np.ndarray          # nose tip
    in_view: float            # fraction of the face ellipse inside the sensor's field of view
    face_px: float            # face ellipse area in thermal pixels


def _ellipse(centre: np.ndarray, right: np.ndarray, down: np.ndarray, across: float, along: float) -> Ellipse:
    return Ellipse(centre, np.column_stack([right * across, down * along]))


def map_face(face: FaceObservation, frame_size: tuple[int, int], calibration: Calibration) -> FaceRoi:
    """Regions of `face` (seen in a camera frame of `frame_size` = (width, height)) on the thermal grid."""
    rig = calibration.rig
    scale = np.array([rig.camera.width / frame_size[0], rig.camera.height / frame_size[1]])
    box = np.asarray(face.box, dtype=float).reshape(2, 2) * scale
    box_centre, box_width = box.mean(axis=0), float(box[1, 0] - box[0, 0])
    keypoints = np.asarray(face.keypoints, dtype=float).reshape(-1, 2) * scale
    if len(keypoints) >= 2:
        eye_l, eye_r = keypoints[EYE_L], keypoints[EYE_R]
        across = eye_r - eye_l
        iod = float(np.linalg.norm(across))
    else:
        iod = 0.0
    if iod > 0.3 * box_width:
        right = across / iod
        eyes = (eye_l + eye_r) / 2
    else:  # no usable eyes: the nominal layout inside the box
        iod = 0.4 * box_width
        right = np.array([1.0, 0.0])
        eyes = box_centre + [0.0, -0.12 * box_width]
        eye_l, eye_r = eyes - right * iod / 2, eyes + right * iod / 2
    down = np.array([-right[1], right[0]])
    distance = rig.face_distance(iod, box_width)
    nose = keypoints[NOSE] if len(keypoints) > NOSE else eyes + down * 0.45 * iod

    width = iod / 0.4    # face-box widths, in camera pixels, from the eye distance
    camera_regions = {
        "face": _ellipse(eyes + down * 0.145 * width, right, down, 0.45 * width, 0.525 * width),
        "head": _ellipse(eyes + down * 0.04 * width, right, down, 0.8 * width, 1.0 * width),
        "forehead": _ellipse(eyes - down * 0.6 * iod, right, down, 0.75 * iod, 0.3 * iod),
        "nose": _ellipse(nose, right, down, 0.15 * iod, 0.12 * iod),
    }
    canthi = [eye_l + INNER_CANTHUS * (eye_r - eye_l), eye_r + INNER_CANTHUS * (eye_l - eye_r)]
    registration = calibration.registration
    jacobian = registration.scale(eyes, distance)

    def to_thermal(region: Ellipse) -> Ellipse:
        centre = registration.to_thermal(region.centre, distance)[0]
        return Ellipse(centre, jacobian @ region.axes)

    thermal = {name: to_thermal(region) for name, region in camera_regions.items()}
    grid = rig.thermal_geometry.resolution
    head = thermal["head"]
    ring = Ellipse(head.centre, head.axes * 1.6)
    canthi_coverage = np.maximum(*(to_thermal(_ellipse(c, right, down, 0.16 * iod, 0.16 * iod)).coverage(grid)
                                   for c in canthi))
    face_coverage = thermal["face"].coverage(grid)
    face_px = thermal["face"].area
    return FaceRoi(distance_m=distance, centre=thermal["face"].centre, face=face_coverage,
                   head=head.coverage(grid), ring=ring.coverage(grid), canthi=canthi_coverage,
                   canthi_points=registration.to_thermal(np.array(canthi), distance),
                   forehead=thermal["forehead"].coverage(grid), nose=thermal["nose"].coverage(grid),
                   in_view=float(min(1.0, face_coverage.sum() / max(face_px, 1e-9))), face_px=face_px)
