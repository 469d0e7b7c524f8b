"""Mask score on real masked / unmasked faces (../shared mask_classification_dev)."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from kiosk.face.images import read_image
from kiosk.face.mask import mask_score


def mask_accuracy(pipeline, root: Path) -> tuple[float, int, int]:
    """(accuracy over detected faces, detected, total); tight crops get a border so the detector sees a face."""
    rows = list(csv.DictReader(open(root / "labels.tsv"), delimiter="\t"))
    correct = detected = 0
    for row in rows:
        image = read_image(root / row["image"])
        pad = max(image.shape[:2]) // 4
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        faces = pipeline.detect(image)
        if not faces:
            continue
        detected += 1
        correct += (mask_score(image, faces[0]) > 0.5) == (row["masked"] == "1")
    return correct / max(detected, 1), detected, len(rows)


def test_mask_score_separates_masked_from_bare_faces(pipeline, shared_dir: Path):
    accuracy, detected, total = mask_accuracy(pipeline, shared_dir / "data" / "masked" / "mask_classification_dev")
    assert total == 80 and detected >= 72
    assert accuracy >= 0.80           # measured 0.861 on the 72 detected faces (README)


def test_painting_a_mask_on_a_bare_face_raises_the_score(pipeline, astronaut):
    face = pipeline.detect(astronaut)[0]
    bare = mask_score(astronaut, face)
    masked = astronaut.copy()
    nose, mouth = face.keypoints[2], face.keypoints[3]
    eye_distance = float(np.hypot(*(face.keypoints[1] - face.keypoints[0])))
    top = int(nose[1] + 0.2 * (mouth[1] - nose[1]))
    x1, x2 = int(mouth[0] - 1.1 * eye_distance), int(mouth[0] + 1.1 * eye_distance)
    cv2.rectangle(masked, (x1, top), (x2, int(face.box[3] + 10)), (200, 150, 90), -1)   # light blue surgical mask
    assert bare < 0.5 < mask_score(masked, face)
