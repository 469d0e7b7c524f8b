"""Alignment: a similarity transform (rotation, uniform scale, shift) from the face's keypoints (the
landmark stage's five points, or the detector's own) to the embedding model's template, fitted with
`cv2.estimateAffinePartial2D`, then a warp.

The template has five points (eyes, nose tip, mouth corners; see kiosk.face.spec). A BlazeFace
detector gives the mouth centre instead of its corners, so it is matched to the corners' mean;
the ears are not used.
"""
from __future__ import annotations

import cv2
import numpy as np

from .detectors.base import KeypointLayout


def correspondences(keypoints: np.ndarray, layout: KeypointLayout,
                    template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame points, template points) to fit, as float32 (n, 2) arrays."""
    template = np.asarray(template, np.float32)
    if layout == KeypointLayout.five_point:
        return np.asarray(keypoints[:5], np.float32), template
    if layout == KeypointLayout.blazeface6:
        target = np.vstack([template[:3], template[3:5].mean(axis=0, keepdims=True)])
        return np.asarray(keypoints[:4], np.float32), target.astype(np.float32)
    raise ValueError(f"unknown keypoint layout {layout!r}")


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity transform taking `source` points onto `target` points.

    A reprojection threshold far above any face size makes every point an inlier, so OpenCV's
    final Levenberg-Marquardt refinement fits all points (a plain least-squares fit).
    """
    matrix, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=1e4,
                                            refineIters=50)
    if matrix is None:
        raise ValueError("keypoints are degenerate; no alignment possible")
    return matrix


def align(image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout, template: np.ndarray,
          size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The aligned chip (height x width x 3, uint8) and the 2x3 frame-to-chip matrix."""
    source, target = correspondences(keypoints, layout, template)
    matrix = similarity_transform(source, target)
    chip = cv2.warpAffine(image_bgr, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return chip, matrix
