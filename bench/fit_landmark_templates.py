"""Fit the FaceMesh templates of kiosk.face.landmarks and kiosk.models.registry on faces that are NOT
the evaluation set (default: ../shared lfw_strangers, 730 one-image identities).

FaceMesh's points sit a little differently on the face than YuNet's (which the embedders' templates
assume): its nose tip is lower, its eye centres are contour means. Two fits, each the median over faces:
- `facemesh_in_arcface_112`: the FaceMesh five points in the ArcFace 112 px frame when the face is
  aligned by YuNet's five points onto the ArcFace template (carries any YuNet-convention template over);
- `dlib_chip_facemesh`: the FaceMesh five points in dlib's own 150 px chip (HOG + shape_predictor_5 +
  get_face_chip_details(150, 0.25), what face_recognition does), i.e. the dlib template for FaceMesh.
Needs dlib-bin (the `bench` extra) and YuNet's .onnx.

    python -m bench.fit_landmark_templates --models var/models \
        --yunet ../shared/models/detection/face_detection_yunet_2023mar.onnx ../shared/data/faces/lfw_strangers/images
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from kiosk.config.face import FaceConfig
from kiosk.face.align import similarity_transform
from kiosk.face.detectors.yunet import YuNetDetector
from kiosk.face.images import read_image
from kiosk.face.landmarks import ARCFACE_112
from kiosk.face.pipeline import FacePipeline
from kiosk.models.registry import DLIB_CHIP_TEMPLATE
from kiosk.models.wheels import default_cache_dir
from kiosk.recognition.benchmark import dlib_model_files

DLIB_CHIP_SIZE, DLIB_PADDING = 150, 0.25


def dlib_chip_matrix(details) -> np.ndarray:
    """2x3 frame-to-chip matrix of a dlib chip_details (dlib's get_mapping_to_chip: rotated rect corners)."""
    r = details.rect
    centre = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
    cos, sin = math.cos(details.angle), math.sin(details.angle)
    rotate = np.array([[cos, -sin], [sin, cos]])
    corners = [(r.left(), r.top()), (r.right(), r.top()), (r.right(), r.bottom())]
    source = np.array([rotate @ (np.array(c) - centre) + centre for c in corners], np.float32)
    target = np.array([(0, 0), (details.cols - 1, 0), (details.cols - 1, details.rows - 1)], np.float32)
    return cv2.getAffineTransform(source, target)


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def fit(images: list[Path], pipeline: FacePipeline, yunet: YuNetDetector) -> dict:
    import dlib

    shape_file, _ = dlib_model_files(default_cache_dir().parent / "dlib-reference")
    hog, shapes = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(shape_file))
    in_arcface, in_dlib = [], []
    for path in images:
        image = read_image(path)
        ours, theirs = pipeline.detect(image), yunet.detect(image)
        if not ours or not theirs:
            continue
        mesh, five = ours[0].keypoints.astype(np.float64), theirs[0].keypoints.astype(np.float64)
        if np.linalg.norm(mesh[0] - five[0]) > 0.3 * np.linalg.norm(five[1] - five[0]):
            continue   # not the same face
        in_arcface.append(apply(similarity_transform(five.astype(np.float32), ARCFACE_112), mesh))
        rgb = np.ascontiguousarray(image[..., ::-1])
        found = hog(rgb, 1)
        if not found:
            continue
        details = dlib.get_face_chip_details(shapes(rgb, max(found, key=lambda f: f.width())), DLIB_CHIP_SIZE,
                                             DLIB_PADDING)
        chip_points = apply(dlib_chip_matrix(details), mesh)
        if np.linalg.norm(chip_points[0] - DLIB_CHIP_TEMPLATE[0]) < 20:   # HOG found the same face
            in_dlib.append(chip_points)
    return {"faces_arcface": len(in_arcface), "faces_dlib": len(in_dlib),
            "facemesh_in_arcface_112": np.median(in_arcface, axis=0).round(2).tolist(),
            "dlib_chip_facemesh": np.median(in_dlib, axis=0).round(2).tolist(),
            "spread_arcface_px": np.std(in_arcface, axis=0).round(2).tolist(),
            "spread_dlib_px": np.std(in_dlib, axis=0).round(2).tolist()}


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(prog="fit_landmark_templates", description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path, help="a folder of <identity>/<image> files")
    parser.add_argument("--models", type=Path, default=Path("var/models"))
    parser.add_argument("--yunet", type=Path, required=True)
    args = parser.parse_args(argv)
    images = sorted(p for p in args.images.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    result = fit(images, FacePipeline(FaceConfig(), args.models), YuNetDetector(args.yunet))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
