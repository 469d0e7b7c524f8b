"""Synthetic masks: drawn over the nose and mouth from the keypoints, never over the eyes."""
from __future__ import annotations

import numpy as np
import pytest

from kiosk.face.detectors.base import KeypointLayout
from kiosk.face.synthetic_mask import MASK_STYLES, TEMPLATE, MaskStyle, draw_mask

SKIN = (110, 145, 200)   # BGR


@pytest.fixture(scope="module")
def face(pipeline, astronaut):
    detection = pipeline.detect(astronaut)[0]
    assert detection.layout == KeypointLayout.blazeface6
    return astronaut, detection.keypoints


def _changed(before: np.ndarray, after: np.ndarray, x: float, y: float, r: int = 2) -> float:
    xi, yi = int(round(x)), int(round(y))
    patch = np.s_[yi - r:yi + r + 1, xi - r:xi + r + 1]
    return float(np.abs(after[patch].astype(int) - before[patch].astype(int)).mean())


@pytest.mark.parametrize("style", MASK_STYLES, ids=lambda s: s.name)
def test_mask_covers_nose_and_mouth_and_leaves_the_eyes(style: MaskStyle) -> None:
    # A flat skin-coloured face frame at twice the template's size, with five points.
    image = np.full((240, 240, 3), SKIN, np.uint8)
    points = TEMPLATE * 2 + 8
    out = draw_mask(image, points, style)
    nose, mouth_left, mouth_right = points[2], points[3], points[4]
    chin = (mouth_left + mouth_right) / 2 + (0, 30)
    for where in (nose + (0, 4), mouth_left, mouth_right, chin):
        assert _changed(image, out, *where) > 10, f"{style.name}: {where} not covered"
    for eye in points[:2]:
        assert _changed(image, out, *eye, r=6) == 0, f"{style.name}: eye at {eye} touched"
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(image, np.full((240, 240, 3), SKIN, np.uint8)), "the input must not be changed"


def test_real_face_six_points_and_deterministic(face) -> None:
    image, keypoints = face
    style = MASK_STYLES[0]
    first = draw_mask(image, keypoints, style)
    assert np.array_equal(first, draw_mask(image, keypoints, style))
    assert _changed(image, first, *keypoints[3], r=3) > 10           # mouth centre covered
    for eye in keypoints[:2]:
        assert _changed(image, first, *eye, r=3) == 0
    five = np.vstack([keypoints[:3], keypoints[3] - (keypoints[1] - keypoints[0]) * 0.4,
                      keypoints[3] + (keypoints[1] - keypoints[0]) * 0.4])
    assert _changed(image, draw_mask(image, five, style), *keypoints[3], r=3) > 10


def test_styles_differ() -> None:
    image = np.full((240, 240, 3), 128, np.uint8)
    points = TEMPLATE * 2 + 8
    drawn = [draw_mask(image, points, s) for s in MASK_STYLES]
    assert len({d.tobytes() for d in drawn}) == len(MASK_STYLES)
    assert len({s.shape for s in MASK_STYLES}) >= 3 and len({s.colour for s in MASK_STYLES}) >= 5


@pytest.mark.parametrize("points", [
    np.zeros((5, 2)),                                             # all in one place
    np.full((5, 2), np.nan),
    np.zeros((4, 2)),                                             # wrong count
    np.zeros((5, 3)),
    (TEMPLATE * [1, -1]).astype(np.float32),                      # mouth above the eyes (mirrored)
    np.array([[0, 0], [10, 0], [20, 0], [30, 0], [40, 0]], np.float32),   # on one line
    np.vstack([TEMPLATE[:4], [[500.0, -400.0]]]).astype(np.float32),     # one point far off
])
def test_bad_points_raise(points) -> None:
    with pytest.raises(ValueError):
        draw_mask(np.full((240, 240, 3), 128, np.uint8), points, MASK_STYLES[0])


def test_bad_style_and_image_raise() -> None:
    with pytest.raises(ValueError, match="shape"):
        MaskStyle("x", "bandana", (0, 0, 0))
    with pytest.raises(ValueError, match="image"):
        draw_mask(np.zeros((50, 50), np.uint8), TEMPLATE, MASK_STYLES[0])
