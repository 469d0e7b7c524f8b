"""Train the mask classifier (kiosk/data/mask_classifier.npz) from data this repository can make.

    python -m kiosk.face.mask_train --out kiosk/data/mask_classifier.npz [--shared ../shared] [--models DIR]

Training data:
- synthetic: every photo of ../shared/data/faces/lfw_strangers, twice bare and twice with a
  synthetic mask (kiosk.face.synthetic_mask, a random style with a jittered colour), each under
  random light, colour cast, blur, noise and JPEG loss; a third of the bare faces get a shadow over
  the lower face (a hard negative: dark like a mask, but with lips and chin), and each sample is cut
  to a random crop, from tight (the face box) to the whole photo;
- real: the 43 MFR2 dev faces (../shared/data/masked/mfr2_dev/labels.tsv, `masked` column), three
  varied copies each.
Every sample goes through the same face finding (kiosk.face.crops) and features as at run time.
Held out: lfw_dev (`--validate` reports accuracy on synthetic masks drawn there); the
mask_classification_dev set is used for reporting only (`kiosk eval mask`).

Deterministic: one seed, and each photo's random numbers depend only on the seed and its index,
so a subset (`--limit`) makes the same samples as the start of the full run.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import os
import sys
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..config.face import FaceConfig
from .crops import Detects, find_face
from .images import read_image
from .mask import MaskClassifier, features
from .pipeline import FacePipeline
from .synthetic_mask import MASK_STYLES, MaskStyle, draw_mask

REPO = Path(__file__).resolve().parents[2]
L2 = 10.0            # ridge penalty on the standardised weights } chosen by leave-one-identity-out
REAL_WEIGHT = 10.0   # weight of a real (MFR2) sample against a synthetic one } accuracy on MFR2 dev
NEWTON_STEPS = 25


def default_shared() -> Path:
    return Path(os.environ.get("KIOSK_SHARED", REPO.parent / "shared"))


# -- variation ------------------------------------------------------------------------------------
def vary_light(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random gamma, contrast, brightness and colour cast; sometimes blur, sensor noise or JPEG loss."""
    levels = np.arange(256, dtype=np.float32) / 255.0
    curve = (levels ** rng.uniform(0.65, 1.5)) * rng.uniform(0.7, 1.25) + rng.uniform(-0.12, 0.12)
    table = np.clip(curve[:, None] * rng.uniform(0.85, 1.15, size=3) * 255.0, 0, 255).astype(np.uint8)
    out = cv2.LUT(image, table.reshape(256, 1, 3))
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 2.0))
    if rng.random() < 0.3:
        noise = rng.normal(0.0, rng.uniform(2.0, 8.0), out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
        assert decoded is not None   # a JPEG cv2 itself just encoded
        out = decoded
    return out


def lower_face_shadow(image: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The face darkened below a soft line between the nose and the mouth (light from above)."""
    eye_l, eye_r, nose, mouth = (np.asarray(keypoints[i], np.float32) for i in range(4))
    across = eye_r - eye_l
    scale = float(np.linalg.norm(across)) or 1.0
    down = np.array([-across[1], across[0]], np.float32) / scale
    start = nose + rng.uniform(-0.1, 0.6) * (mouth - nose)
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]].astype(np.float32)
    depth = ((xs - start[0]) * down[0] + (ys - start[1]) * down[1]) / (0.15 * scale)
    shade = 1.0 - rng.uniform(0.3, 0.6) / (1.0 + np.exp(-np.clip(depth, -40, 40)))
    return np.clip(image.astype(np.float32) * shade[..., None], 0, 255).astype(np.uint8)


def random_crop(image: np.ndarray, box: tuple[float, float, float, float], rng: np.random.Generator) -> np.ndarray:
    """A square crop around the face box, 0.9 to 1.6 times its width; the whole image one time in four."""
    if rng.random() < 0.25:
        return image
    x1, y1, x2, y2 = box
    half = (x2 - x1) * rng.uniform(0.9, 1.6) / 2
    cx = (x1 + x2) / 2 + rng.uniform(-0.08, 0.08) * (x2 - x1)
    cy = (y1 + y2) / 2 + rng.uniform(-0.08, 0.08) * (y2 - y1)
    h, w = image.shape[:2]
    left, top = int(max(0, cx - half)), int(max(0, cy - half))
    right, bottom = int(min(w, cx + half)), int(min(h, cy + half))
    return image[top:bottom, left:right].copy() if right - left > 8 and bottom - top > 8 else image


def random_style(rng: np.random.Generator) -> MaskStyle:
    """One of the synthetic mask styles, half the time in a random colour (masks come in every colour,
    the styles in a few), otherwise with its own colour moved a little."""
    style = MASK_STYLES[int(rng.integers(len(MASK_STYLES)))]
    if rng.random() < 0.5:
        hsv = np.array([[[rng.integers(0, 180), rng.integers(0, 200), rng.integers(40, 245)]]], np.uint8)
        colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    else:
        colour = np.clip(np.array(style.colour) * rng.uniform(0.8, 1.2, 3) + rng.uniform(-20, 20, 3), 0, 255)
    b, g, r = (int(c) for c in colour)
    return dataclasses.replace(style, colour=(b, g, r))


def jitter_points(keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keypoints moved as a mask fits differently: the lower points stretched or squeezed away from
    the eyes (a mask that sits higher or lower, a longer chin) and a little noise on each point."""
    points = np.asarray(keypoints, np.float32).copy()
    eyes = points[:2].mean(axis=0)
    scale = float(np.linalg.norm(points[1] - points[0])) or 1.0
    points[2:] = eyes + (points[2:] - eyes) * rng.uniform(0.9, 1.15)
    return points + rng.normal(0.0, 0.03 * scale, points.shape).astype(np.float32)


# -- samples --------------------------------------------------------------------------------------
def _sample(detector: Detects, image: np.ndarray) -> Optional[np.ndarray]:
    hit = find_face(detector, image)
    return None if hit.detection is None else features(hit.image, hit.detection)


def synthetic_samples(detector: Detects, paths: list[Path], seed: int,
                      per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (1 = masked) of bare and synthetically masked versions of each photo."""
    rows, labels = [], []
    for index, path in enumerate(paths):
        rng = np.random.default_rng([seed, index])
        image = read_image(path)
        faces = detector.detect(image)
        if not faces:
            continue
        face = faces[0]
        for masked in [False] * per_class + [True] * per_class:
            if masked:
                try:
                    varied = draw_mask(image, jitter_points(face.keypoints, rng), random_style(rng))
                except ValueError:      # keypoints too far from a face's shape to draw on
                    continue
            elif rng.random() < 1 / 3:
                varied = lower_face_shadow(image, face.keypoints, rng)
            else:
                varied = image
            x = _sample(detector, random_crop(vary_light(varied, rng), face.box, rng))
            if x is not None:
                rows.append(x)
                labels.append(masked)
    return np.array(rows, np.float32).reshape(len(rows), -1), np.array(labels, bool)


def real_samples(detector: Detects, labels_file: Path, seed: int, copies: int = 3,
                 limit: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of varied copies of the images of a labels TSV (columns image, masked)."""
    with open(labels_file, newline="") as f:
        table = list(csv.DictReader(f, delimiter="\t"))[:limit]
    rows, labels = [], []
    for index, row in enumerate(table):
        rng = np.random.default_rng([seed, 1_000_000 + index])
        image = read_image(labels_file.parent / row["image"])
        for _ in range(copies):
            x = _sample(detector, vary_light(image, rng))
            if x is not None:
                rows.append(x)
                labels.append(row["masked"] == "1")
    return np.array(rows, np.float32).reshape(len(rows), -1), np.array(labels, bool)


# -- model ----------------------------------------------------------------------------------------
def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, weight: Optional[np.ndarray] = None) -> MaskClassifier:
    """Class-balanced, L2-penalised logistic regression by Newton's method (exact and deterministic);
    `weight` scales each sample's share within its class."""
    if y.all() or not y.any():
        raise ValueError("training data needs both masked and bare faces")
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1), np.float32)]).astype(np.float64)
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    sample_weight = weight * np.where(y, 0.5 / weight[y].sum(), 0.5 / weight[~y].sum()) * len(y)
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0                                   # the bias is not penalised
    w = np.zeros(z.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -40, 40)))
        gradient = z.T @ (sample_weight * (p - y)) + penalty * w
        hessian = (z * (sample_weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    digest = hashlib.sha256(np.concatenate([mean, scale, w]).astype(np.float32).tobytes()).hexdigest()[:12]
    return MaskClassifier(mean.astype(np.float32), scale.astype(np.float32), w[:-1].astype(np.float32),
                          float(w[-1]), f"mask_logreg@{digest}")


def lfw_photos(folder: Path, limit: Optional[int] = None) -> list[Path]:
    paths = sorted(folder.glob("*/*.jpg"))[:limit]
    if not paths:
        raise FileNotFoundError(f"{folder}: no */*.jpg photos")
    return paths


def train(detector: Detects, shared: Path, seed: int = 0, limit: Optional[int] = None,
          l2: float = L2) -> MaskClassifier:
    """The classifier from lfw_strangers (synthetic) and MFR2 dev (real); `limit` photos of each for tests."""
    xs, ys = synthetic_samples(detector, lfw_photos(shared / "data/faces/lfw_strangers/images", limit), seed)
    xr, yr = real_samples(detector, shared / "data/masked/mfr2_dev/labels.tsv", seed, limit=limit)
    weight = np.concatenate([np.ones(len(ys)), np.full(len(yr), REAL_WEIGHT)])
    return fit_logistic(np.vstack([xs, xr]), np.concatenate([ys, yr]), l2, weight)


def validate(classifier: MaskClassifier, detector: Detects, shared: Path, seed: int) -> dict[str, float]:
    """Accuracy at 0.5 on synthetic masked / bare versions of the held-out lfw_dev photos."""
    folder = shared / "data/faces/lfw_dev"
    x, y = synthetic_samples(detector, lfw_photos(folder / "images") + lfw_photos(folder / "distractors"), seed + 1)
    predicted = classifier.score(x) >= 0.5
    return {"samples": float(len(y)), "accuracy": float((predicted == y).mean()),
            "masked_recall": float(predicted[y].mean()), "bare_recall": float((~predicted[~y]).mean())}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.face.mask_train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="weights file to write (.npz)")
    parser.add_argument("--shared", type=Path, default=default_shared(),
                        help="evaluation data folder (default $KIOSK_SHARED or ../shared)")
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("KIOSK_MODELS_DIR", REPO / "var/models")),
                        help="installed models directory (default $KIOSK_MODELS_DIR or var/models)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--l2", type=float, default=L2, help=f"ridge penalty (default {L2:g})")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos of each source")
    parser.add_argument("--validate", action="store_true", help="also report accuracy on held-out lfw_dev")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    detector = FacePipeline(FaceConfig(), args.models)   # the keypoints the kiosk passes to mask_score
    classifier = train(detector, args.shared, args.seed, args.limit, args.l2)
    classifier.save(args.out)
    print(f"{args.out}: {classifier.model_id}")
    if args.validate:
        print("held-out lfw_dev (synthetic masks):", validate(classifier, detector, args.shared, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
