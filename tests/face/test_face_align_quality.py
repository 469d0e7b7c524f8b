"""Alignment to the model template and the quality gates, each with its reason."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from kiosk.config.face import FaceConfig
from kiosk.face import quality
from kiosk.face.align import align, correspondences, similarity_transform
from kiosk.face.detectors.base import Detection, KeypointLayout

TEMPLATE = np.array([[46.39, 45.98], [102.49, 45.98], [74.44, 79.52], [49.58, 103.35], [99.30, 103.35]], np.float32)


def test_similarity_transform_recovers_rotation_scale_and_shift():
    angle, scale, shift = np.radians(20), 1.7, np.array([30.0, -12.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = TEMPLATE.astype(np.float64)
    target = (source @ rot.T + shift).astype(np.float32)
    matrix = similarity_transform(source.astype(np.float32), target)
    np.testing.assert_allclose(matrix[:, :2], rot, atol=1e-3)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-2)


def test_blazeface_mouth_centre_goes_to_the_mouth_corners_mean():
    points = np.zeros((6, 2), np.float32)
    source, target = correspondences(points, KeypointLayout.blazeface6, TEMPLATE)
    assert source.shape == target.shape == (4, 2)
    np.testing.assert_allclose(target[3], TEMPLATE[3:5].mean(axis=0))


def test_aligned_chip_puts_the_keypoints_on_the_template(pipeline, astronaut):
    face = pipeline.detect(astronaut)[0]
    chip, matrix = align(astronaut, face.keypoints, face.layout, TEMPLATE, (150, 150))
    assert chip.shape == (150, 150, 3)
    moved = face.keypoints[:2] @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(moved, TEMPLATE[:2], atol=6.0)   # eyes land near the template's eyes


def _detection(width: float, keypoints: np.ndarray) -> Detection:
    return Detection((0.0, 0.0, width, width), 0.9, keypoints.astype(np.float32), KeypointLayout.blazeface6)


FRONTAL = np.array([[40, 40], [80, 40], [60, 62], [60, 82], [20, 50], [100, 50]], np.float32)


def test_yaw_is_zero_facing_and_signed_when_turned():
    assert abs(quality.yaw_degrees(FRONTAL)) < 1
    turned = FRONTAL.copy()
    turned[2, 0] += 20                                 # nose tip half an eye distance to the side
    assert quality.yaw_degrees(turned) > 30


@pytest.fixture(scope="module")
def good_chip(pipeline, astronaut):
    face = pipeline.detect(astronaut)[0]
    return face, pipeline.embedder.chip(astronaut, face.keypoints, face.layout)


def test_a_good_face_passes(good_chip):
    face, chip = good_chip
    result = quality.assess(face, chip, FaceConfig())
    assert result.ok and result.reason is None and result.brightness > 50 and result.sharpness > 40


@pytest.mark.parametrize("change, reason", [
    ("small", quality.MOVE_CLOSER),
    ("turned", quality.LOOK_AT_CAMERA),
    ("dark", quality.TOO_DARK),
    ("bright", quality.TOO_BRIGHT),
    ("blurred", quality.HOLD_STILL),
])
def test_each_gate_says_why(good_chip, change, reason):
    face, chip = good_chip
    keypoints = face.keypoints.copy()
    width = face.width
    if change == "small":
        width = 40
    elif change == "turned":
        eye_distance = np.hypot(*(keypoints[1] - keypoints[0]))
        keypoints[2, 0] = (keypoints[0, 0] + keypoints[1, 0]) / 2 + eye_distance   # nose far to one side
    elif change == "dark":
        chip = (chip * 0.2).astype(np.uint8)
    elif change == "bright":
        chip = cv2.add(chip, np.full_like(chip, 140))
    elif change == "blurred":
        chip = cv2.GaussianBlur(chip, (0, 0), 4)
    detection = Detection((0.0, 0.0, width, width), face.score, keypoints, face.layout)
    result = quality.assess(detection, chip, FaceConfig())
    assert not result.ok and result.reason == reason
