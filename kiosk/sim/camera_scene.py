"""Camera images of the scene: demo photos composited where the subject's face projects.

The photo is placed by a similarity transform from the face keypoints found in the photo to
the keypoints of the simulated face, so the face lands at the size and position the geometry
gives for the subject's distance. A printed-photo attack is the same picture with a paper
border; a mask is drawn over the nose, mouth and chin.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# BlazeFace keypoint order: eye (image-left), eye (image-right), nose tip, mouth centre, ear, ear.
EYE_L, EYE_R, NOSE, MOUTH = 0, 1, 2, 3


@dataclass(frozen=True)
class SourcePhoto:
    image: np.ndarray      # BGR
    keypoints: np.ndarray  # (>=4, 2) face keypoints in photo pixels, BlazeFace order


def office_background(width: int, height: int) -> np.ndarray:
    """A plain, deterministic backdrop: a lit wall, a door frame and a floor."""
    wall = np.linspace(200, 150, height, dtype=np.float32)[:, None, None] * np.array([0.92, 0.96, 1.0], np.float32)
    image = np.broadcast_to(wall, (height, width, 3)).astype(np.uint8).copy()
    cv2.rectangle(image, (int(width * 0.62), int(height * 0.08)), (int(width * 0.9), height), (120, 135, 150), 10)
    image[int(height * 0.86):] = (95, 105, 115)
    return image


def _paste(frame: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> None:
    a = alpha[..., None]
    np.copyto(frame, (layer * a + frame * (1.0 - a)).astype(np.uint8))


def draw_subject(frame: np.ndarray, photo: SourcePhoto, target: np.ndarray, printed: bool = False) -> None:
    """Warp `photo` onto `frame` so that its keypoints land on `target` (in place)."""
    height, width = frame.shape[:2]
    matrix, _ = cv2.estimateAffinePartial2D(photo.keypoints[:4].astype(np.float32), target[:4].astype(np.float32))
    if matrix is None:
        return
    source = photo.image
    if printed:  # paper: slightly washed-out colours and a white margin
        source = cv2.addWeighted(source, 0.85, np.full_like(source, 255), 0.15, 0)
        margin = max(4, source.shape[1] // 40)
        source = cv2.copyMakeBorder(source, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(245, 245, 245))
        matrix = matrix @ np.array([[1, 0, -margin], [0, 1, -margin], [0, 0, 1]], np.float64)
    layer = cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_AREA)
    coverage = cv2.warpAffine(np.ones(source.shape[:2], np.float32), matrix, (width, height))
    _paste(frame, layer.astype(np.float32), coverage)


def draw_mask(frame: np.ndarray, target: np.ndarray) -> None:
    """A light-blue surgical mask over nose, mouth and chin, shaped by the keypoints."""
    eye_l, eye_r, nose, mouth = (target[i].astype(np.float32) for i in (EYE_L, EYE_R, NOSE, MOUTH))
    across = eye_r - eye_l
    scale = float(np.linalg.norm(across))
    if scale < 2:
        return
    right = across / scale
    down = np.array([-right[1], right[0]], np.float32)
    top = nose - 0.25 * scale * down
    chin = mouth + 0.75 * scale * down
    half = 0.95 * scale
    polygon = np.array([top - half * 0.8 * right, top + half * 0.8 * right, mouth + half * right,
                        chin + 0.45 * half * right, chin - 0.45 * half * right, mouth - half * right], np.int32)
    cv2.fillPoly(frame, [polygon], (225, 205, 170), lineType=cv2.LINE_AA)
    for k in (0.3, 0.55, 0.8):  # pleats
        y = top + k * (chin - top)
        cv2.line(frame, tuple((y - 0.8 * half * right).astype(int)), tuple((y + 0.8 * half * right).astype(int)),
                 (200, 180, 150), max(1, int(scale / 25)), cv2.LINE_AA)
