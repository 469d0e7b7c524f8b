"""The face_recognition pipeline as an accuracy reference: dlib's HOG detector (upsample 1), the 5-point
shape predictor, dlib's own 150 px chip (padding 0.25) and the same ResNet weights as `dlib_resnet_v1`.

This is what `face_recognition.face_encodings(image)` does (model "small", one jitter), run on a
pairs file with the figures of `kiosk eval` (kiosk.face.verification), so the kiosk's alignment can
be held against it. Needs the `bench` extra (dlib-bin). An image where HOG finds no face is tried
once more with the same 25% border as `kiosk eval`; still none: its pairs are left out and counted.

    python -m bench.face_recognition_reference ../shared/data/faces/lfw_dev/pairs_dev.tsv [--all-impostors]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from kiosk.face.evaluation import BORDER, all_impostor_pairs
from kiosk.face.images import read_image
from kiosk.face.pairs import read_pairs
from kiosk.face.verification import summary
from kiosk.models.wheels import default_cache_dir
from kiosk.recognition.benchmark import dlib_model_files

UPSAMPLE = 1   # face_recognition's default number_of_times_to_upsample


class FaceRecognitionPipeline:
    """dlib HOG + shape_predictor_5_face_landmarks + ResNet descriptor of the largest face."""

    def __init__(self, cache: Path) -> None:
        import dlib

        shape_file, resnet_file = dlib_model_files(cache)
        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(str(shape_file))
        self.net = dlib.face_recognition_model_v1(str(resnet_file))

    def embed(self, image_bgr: np.ndarray) -> Optional[np.ndarray]:
        rgb = np.ascontiguousarray(image_bgr[..., ::-1])
        faces = self.detector(rgb, UPSAMPLE)
        if not faces:
            return None
        largest = max(faces, key=lambda r: r.width() * r.height())
        return np.array(self.net.compute_face_descriptor(rgb, self.shapes(rgb, largest), 1), np.float32)


def embed_file(pipeline: FaceRecognitionPipeline, path: Path) -> Optional[np.ndarray]:
    image = read_image(path)
    vector = pipeline.embed(image)
    if vector is None:
        pad = int(max(image.shape[:2]) * BORDER)
        vector = pipeline.embed(cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0))
    return vector


def evaluate(pairs_file: Path, all_impostors: bool) -> dict:
    pairs = read_pairs(pairs_file)
    pipeline = FaceRecognitionPipeline(default_cache_dir().parent / "dlib-reference")
    images = sorted({p.a for p in pairs} | {p.b for p in pairs})
    vectors = {path: v for path in images if (v := embed_file(pipeline, path)) is not None}
    usable = [p for p in pairs if p.a in vectors and p.b in vectors]
    if all_impostors:
        usable = [p for p in usable if p.same] + all_impostor_pairs(list(vectors))
    d = np.array([float(np.linalg.norm(vectors[p.a] - vectors[p.b])) for p in usable])
    same = np.array([p.same for p in usable])
    folds = np.array([p.fold for p in usable]) if all(p.fold is not None for p in usable) else None
    return {"pipeline": "face_recognition (dlib HOG upsample 1 + shape_predictor_5 + get_face_chip 150/0.25 + ResNet)",
            "images": len(images), "images_without_face": len(images) - len(vectors),
            "pairs_in_file": len(pairs), "pairs_failed": len(pairs) - sum(1 for p in pairs if p.a in vectors and p.b in vectors),
            "impostors": "every cross-identity image pair" if all_impostors else "the file's impostor pairs",
            **summary(d, same, folds)}


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(prog="face_recognition_reference", description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--all-impostors", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args(argv)
    report = evaluate(args.pairs, args.all_impostors)
    acc = report["accuracy_kfold"]
    print(f"{report['pipeline']}; {report['images']} images, {report['images_without_face']} without a face, "
          f"{report['pairs_failed']} pairs left out; impostors: {report['impostors']}")
    print(f"{report['pairs']} pairs ({report['genuine']} genuine, {report['impostor']} impostor): accuracy "
          f"{100 * acc['mean']:.2f}% +- {100 * acc['std']:.2f} ({acc['folds']}-fold); EER {100 * report['eer']['eer']:.2f}%")
    for p in report["tar_at_far"]:
        note = "" if p["estimable"] else "  (not estimable)"
        print(f"  TAR {100 * p['tar']:6.2f}% at FAR {p['far_target']:g} (measured {p['far']:.4g}), "
              f"threshold {p['threshold']:.4f}{note}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
