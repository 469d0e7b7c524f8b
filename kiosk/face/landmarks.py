"""Landmark stage: precise eye centres, nose tip and mouth corners for a detected face.

BlazeFace's six keypoints are coarse (mouth centre, no corners), so between detection and alignment
the face is refined by MediaPipe's FaceMesh (`face_landmark.tflite`, 468 points): a square crop
centred on the detection box, 1.5x its longer side, rotated so the eyes are level (MediaPipe's own
rule), scaled to 192 px RGB in [0, 1]. The mesh comes back in crop pixels and is mapped to the frame
with the inverse of the crop transform; the five points are taken from it (KeypointLayout.five_point):
eye centre = mean of that eye's 16 contour points, nose tip = point 1, mouth corners = 61 and 291.

`face.landmarks = "detector"` keeps the detector's own keypoints (YuNet already gives five points).
Not thread-safe (one interpreter): one stage per FacePipeline, one pipeline per thread.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..config.face import FaceConfig, LandmarkSource
from .align import similarity_transform
from .detectors.base import Detection, KeypointLayout
from .errors import ModelError
from .runtime import TFLiteModel
from .spec import ModelSpec, load_spec

FACEMESH_ID = "facemesh"
MESH_POINTS = 468
ROI_SCALE = 1.5

# FaceMesh indices. "Left"/"right" are image sides for an unmirrored photo (the subject's right eye
# is on the image-left).
EYE_IMAGE_LEFT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_IMAGE_RIGHT = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE_TIP = 1
MOUTH_IMAGE_LEFT = 61
MOUTH_IMAGE_RIGHT = 291

# Where FaceMesh's five points land in the ArcFace 112 px frame when a face is aligned by YuNet's five
# points onto the ArcFace template (ARCFACE_112): medians over 723 faces of ../shared lfw_strangers
# (not the LFW dev evaluation set), fitted by bench/fit_landmark_templates.py. The mesh's nose tip sits
# 4.4 px lower than YuNet's, its eye centres 2 px lower. With it, a template of YuNet's convention is
# carried over to FaceMesh points (`template_for`).
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                        [70.7299, 92.2041]], np.float32)
FACEMESH_IN_ARCFACE_112 = np.array([[37.28, 53.60], [73.04, 53.31], [54.88, 76.18], [40.31, 92.20],
                                    [71.09, 91.91]], np.float32)


class LandmarkStage(Protocol):
    """Refines a detection's keypoints; returns the detection with the stage's layout."""

    name: str

    def refine(self, image_bgr: np.ndarray, detection: Detection) -> Detection: ...


class DetectorKeypoints:
    """The detector's own keypoints, unchanged (today's alignment; YuNet's five points)."""

    name = "detector"

    def refine(self, image_bgr: np.ndarray, detection: Detection) -> Detection:
        return detection


def roi_transform(detection: Detection, size: int, scale: float = ROI_SCALE) -> np.ndarray:
    """2x3 frame-to-crop matrix: square crop around the box centre, `scale` x its longer side, eyes level."""
    x1, y1, x2, y2 = detection.box
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    side = max(x2 - x1, y2 - y1) * scale
    dx, dy = detection.keypoints[1] - detection.keypoints[0]
    angle = math.atan2(float(dy), float(dx))
    zoom = size / max(side, 1e-6)
    cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
    rotation = np.array([[cos, sin], [-sin, cos]])
    shift = size / 2 - rotation @ centre
    return np.hstack([rotation, shift[:, None]])


def to_frame(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(n, 2) crop points -> frame points, through the inverse of the frame-to-crop `matrix`."""
    inverse = cv2.invertAffineTransform(matrix)
    return points @ inverse[:, :2].T + inverse[:, 2]


def five_points(mesh: np.ndarray) -> np.ndarray:
    """Eyes, nose tip, mouth corners (KeypointLayout.five_point) from the (468, 2) mesh."""
    return np.array([mesh[list(EYE_IMAGE_LEFT)].mean(axis=0), mesh[list(EYE_IMAGE_RIGHT)].mean(axis=0),
                     mesh[NOSE_TIP], mesh[MOUTH_IMAGE_LEFT], mesh[MOUTH_IMAGE_RIGHT]], np.float32)


class FaceMeshLandmarks:
    """MediaPipe FaceMesh on a rotated face crop. `presence` of the last call: face-presence probability."""

    name = FACEMESH_ID

    def __init__(self, spec: ModelSpec, spec_dir: Path, num_threads: int = 1) -> None:
        self.model = TFLiteModel(spec, spec_dir, num_threads)
        if spec.task != "landmarks":
            raise ModelError(self.model.path, f"spec {spec.id} is a {spec.task}, not a landmarks model")
        sizes = [int(np.prod(s)) for s in self.model.output_shapes]
        if MESH_POINTS * 3 not in sizes or 1 not in sizes:
            raise ModelError(self.model.path, f"wrong shape: outputs {self.model.output_shapes}, expected "
                                              f"{MESH_POINTS}x3 points and a face-presence logit")
        self._mesh_out, self._flag_out = sizes.index(MESH_POINTS * 3), sizes.index(1)
        self.size = spec.model_input_size()[0]
        self.presence = 0.0

    def mesh(self, image_bgr: np.ndarray, detection: Detection) -> np.ndarray:
        """(468, 2) mesh points in frame pixels."""
        matrix = roi_transform(detection, self.size)
        crop = cv2.warpAffine(image_bgr, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        outputs = self.model.run(self.model.prepare(crop))
        self.presence = float(1.0 / (1.0 + np.exp(-float(outputs[self._flag_out].ravel()[0]))))
        points = outputs[self._mesh_out].reshape(MESH_POINTS, 3)[:, :2]
        return to_frame(points, matrix)

    def refine(self, image_bgr: np.ndarray, detection: Detection) -> Detection:
        points = five_points(self.mesh(image_bgr, detection))
        return replace(detection, keypoints=points, layout=KeypointLayout.five_point)


def template_for(spec: ModelSpec, source: str) -> np.ndarray:
    """The embedder's five-point template for points of `source` (a LandmarkStage name).

    The spec's own `landmark_templates[source]` when it has one (dlib: fitted to dlib's own chips);
    for FaceMesh otherwise the spec's template moved by the similarity that takes ARCFACE_112 onto it,
    applied to FACEMESH_IN_ARCFACE_112; for the detector's points the spec's template as it is.
    """
    if spec.template is None:
        raise ValueError(f"spec {spec.id} has no template")
    template = np.asarray(spec.template, np.float32)
    if spec.landmark_templates and source in spec.landmark_templates:
        return np.asarray(spec.landmark_templates[source], np.float32)
    if source != FACEMESH_ID:
        return template
    matrix = similarity_transform(ARCFACE_112, template)
    return (FACEMESH_IN_ARCFACE_112 @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def create_landmarks(config: FaceConfig, models_dir: Path) -> LandmarkStage:
    """The stage named by `face.landmarks`; ModelError for a missing or bad model file or spec."""
    if config.landmarks == LandmarkSource.detector:
        return DetectorKeypoints()
    return FaceMeshLandmarks(load_spec(models_dir, FACEMESH_ID), models_dir, config.num_threads)


__all__ = ["DetectorKeypoints", "FaceMeshLandmarks", "LandmarkStage", "create_landmarks", "roi_transform",
           "to_frame", "five_points", "template_for"]
