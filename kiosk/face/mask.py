"""Mask score: a small learnt classifier on the aligned face, 0 = bare .. 1 = masked.

The fallback where the AIZOO SSD (kiosk.face.mask_ssd, more accurate on real masks) is not installed.

The face is aligned from the detector's keypoints to a 64 px five-point template (any keypoint
layout that `align` knows), then described by
- HOG of the whole face at 24 px (in numpy: OpenCV 5 has no HOGDescriptor): a mask removes the
  lips, nostrils and chin edges and draws a straight edge across the cheeks. Coarse on purpose:
  finer HOG fitted the synthetic masks' texture and carried over worse to real masks;
- CIE Lab colour of the mouth-and-chin region and the lower cheeks against the nose bridge and
  upper cheeks (rarely covered), as means, spreads and differences, plus a coarse a*/b*
  histogram of the upper and the lower face: a mask of another colour than skin shifts them.
A logistic regression on the standardised features gives the score. Its weights live in
kiosk/data/mask_classifier.npz, made by `python -m kiosk.face.mask_train` from synthetic masks drawn
on ../shared faces plus the real masked faces of MFR2 (see the README for the exact command).

Cost: about 1.8x the old colour rule (align 0.2 ms of it); see the README for the measurement.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .align import align
from .detectors.base import Detection
from .errors import ModelError

SIZE = 64
# Five-point template (eyes, nose tip, mouth corners) in a 64 px face frame.
TEMPLATE = np.array([[20.0, 22.0], [44.0, 22.0], [32.0, 36.0], [22.5, 46.0], [41.5, 46.0]], np.float32)
# Regions as (x1, y1, x2, y2) in that frame.
UPPER = [(27, 17, 37, 26),            # nose bridge between the eyes
         (14, 27, 22, 32), (42, 27, 50, 32)]   # upper cheeks under the eyes
LOWER = [(20, 41, 44, 56)]            # mouth and chin
MIDDLE = [(14, 34, 24, 42), (40, 34, 50, 42)]  # lower cheeks beside the nose: a mask's side panels

HOG_SIZE, HOG_CELL, HOG_BINS = 24, 8, 9
# Pixel -> first histogram slot of its cell, in row-major cell order.
_HOG_CELL_INDEX = ((np.arange(HOG_SIZE)[:, None] // HOG_CELL) * (HOG_SIZE // HOG_CELL)
                   + np.arange(HOG_SIZE)[None, :] // HOG_CELL) * HOG_BINS
# Changes to what `features` computes must change this id; a weights file for another id is refused.
FEATURES_ID = "hog24x9+lab-stats+ab-hist4-v2"
# a*, b* histogram of the upper and the lower face: 4x4 bins over the skin-and-mask range (128 = grey).
AB_BINS, AB_RANGE = 4, (96.0, 176.0)
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "data" / "mask_classifier.npz"
RETRAIN = "python -m kiosk.face.mask_train --out kiosk/data/mask_classifier.npz"


def aligned_face(image_bgr: np.ndarray, detection: Detection) -> np.ndarray:
    """The face warped to the 64 px template (64x64x3 uint8)."""
    face, _ = align(image_bgr, detection.keypoints, detection.layout, TEMPLATE, (SIZE, SIZE))
    return face


def _pixels(lab: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
    return np.concatenate([lab[y1:y2, x1:x2].reshape(-1, 3) for x1, y1, x2, y2 in regions])


def _stats(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, spread = cv2.meanStdDev(pixels.reshape(-1, 1, 3))
    return mean.ravel(), spread.ravel()


def hog(gray: np.ndarray) -> np.ndarray:
    """Dalal-Triggs HOG: 8 px cells, 9 unsigned orientation bins (linearly shared), 2x2-cell blocks
    with L2-Hys normalisation. (OpenCV 5 moved cv2.HOGDescriptor out of the main package.)"""
    g = gray.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1)
    magnitude, angle = cv2.cartToPolar(gx, gy, angleInDegrees=True)
    position = (angle % 180.0) / (180.0 / HOG_BINS) - 0.5
    low = np.floor(position)
    share = position - low
    low = low.astype(int) % HOG_BINS
    cells = HOG_SIZE // HOG_CELL
    size = cells * cells * HOG_BINS
    hist = (np.bincount((_HOG_CELL_INDEX + low).ravel(), (magnitude * (1 - share)).ravel(), size)
            + np.bincount((_HOG_CELL_INDEX + (low + 1) % HOG_BINS).ravel(), (magnitude * share).ravel(), size))
    hist = hist.reshape(cells, cells, HOG_BINS)
    blocks = np.lib.stride_tricks.sliding_window_view(hist, (2, 2), axis=(0, 1))    # (3, 3, 9, 2, 2)
    blocks = blocks.reshape(cells - 1, cells - 1, -1)
    blocks = blocks / np.sqrt((blocks ** 2).sum(axis=-1, keepdims=True) + 1e-6)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt((blocks ** 2).sum(axis=-1, keepdims=True) + 1e-6)
    return blocks.ravel().astype(np.float32)


def _ab_histogram(pixels: np.ndarray) -> np.ndarray:
    """Share of the pixels in each a*/b* bin; pixels outside AB_RANGE count in none (as np.histogram2d)."""
    low, high = AB_RANGE
    ab = pixels[:, 1:]
    inside = np.all((ab >= low) & (ab <= high), axis=1)
    bins = np.minimum(((ab[inside] - low) * (AB_BINS / (high - low))).astype(int), AB_BINS - 1)
    return np.bincount(bins[:, 0] * AB_BINS + bins[:, 1], minlength=AB_BINS * AB_BINS) / len(pixels)


def face_features(face: np.ndarray) -> np.ndarray:
    """Feature vector of an aligned 64 px face (float32)."""
    gray = cv2.cvtColor(cv2.resize(face, (HOG_SIZE, HOG_SIZE), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    hog_features = hog(gray)
    lab = cv2.cvtColor(face, cv2.COLOR_BGR2LAB).astype(np.float32)
    upper_pixels, lower_pixels = _pixels(lab, UPPER), _pixels(lab, LOWER)
    upper, upper_spread = _stats(upper_pixels)
    middle, middle_spread = _stats(_pixels(lab, MIDDLE))
    lower, lower_spread = _stats(lower_pixels)
    colour = np.concatenate([upper, middle, lower, upper_spread, middle_spread, lower_spread,
                             lower - upper, middle - upper,
                             [np.hypot(*(lower - upper)[1:]), np.hypot(*(middle - upper)[1:])]]) / 64.0
    return np.concatenate([hog_features, colour, _ab_histogram(upper_pixels), _ab_histogram(lower_pixels)]).astype(np.float32)


def features(image_bgr: np.ndarray, detection: Detection) -> np.ndarray:
    """Feature vector of one detected face."""
    return face_features(aligned_face(image_bgr, detection))


@dataclass(frozen=True)
class MaskClassifier:
    """Logistic regression on standardised features: score = sigmoid(w . (x - mean) / scale + b)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    model_id: str

    def score(self, x: np.ndarray) -> np.ndarray:
        """Scores (0..1) of one feature vector or an (n, d) array of them."""
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez(f, mean=self.mean, scale=self.scale, weights=self.weights, bias=np.float64(self.bias),
                     features_id=np.str_(FEATURES_ID), model_id=np.str_(self.model_id))

    @classmethod
    def load(cls, path: Path) -> MaskClassifier:
        """Reads a weights file; ModelError naming the file and how to remake it when it is unusable."""
        fix = f"remake it with `{RETRAIN}`"
        if not path.is_file():
            raise ModelError(path, f"mask classifier missing; {fix}")
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {k: data[k] for k in ("mean", "scale", "weights", "bias", "features_id", "model_id")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(path, f"not a mask classifier ({exc}); {fix}") from None
        if str(fields["features_id"]) != FEATURES_ID:
            raise ModelError(path, f"made for features {fields['features_id']}, this code computes {FEATURES_ID}; {fix}")
        dim = len(face_features(np.zeros((SIZE, SIZE, 3), np.uint8)))
        shapes = [fields[k].shape for k in ("mean", "scale", "weights")]
        if any(s != (dim,) for s in shapes) or not np.all(fields["scale"] > 0):
            raise ModelError(path, f"wrong shapes {shapes} (expected ({dim},)) or a zero scale; {fix}")
        return cls(fields["mean"].astype(np.float32), fields["scale"].astype(np.float32),
                   fields["weights"].astype(np.float32), float(fields["bias"]), str(fields["model_id"]))


@lru_cache(maxsize=4)
def load_classifier(path: Path = DEFAULT_WEIGHTS) -> MaskClassifier:
    """The classifier from `path`, read once per process."""
    return MaskClassifier.load(path)


class LearnedMaskScorer:
    """The mask score from the learnt classifier (always available: its weights ship with the package)."""

    name = "learned"

    def __init__(self, path: Path = DEFAULT_WEIGHTS) -> None:
        self.classifier = load_classifier(path)
        self.model_id = self.classifier.model_id

    def score(self, image_bgr: np.ndarray, detection: Detection) -> float:
        """0 = bare .. 1 = masked, for one detected face."""
        return float(self.classifier.score(features(image_bgr, detection)))
