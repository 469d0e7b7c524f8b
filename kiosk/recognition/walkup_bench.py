"""The walk-up figure: one camera frame of a person in front of the kiosk, end to end, on one core.

Per 640x480 frame with a kiosk-sized face (kiosk.face.frames: 130-250 px wide, a person 0.5-1 m
away), the whole `FacePipeline.process` (detect, align, quality gates, mask score, embed), the
track fusion, and `Matcher.search` over a gallery of `people` enrolled persons (random unit
vectors, `templates` each) — what the recognizer does per frame apart from the store lookup.
Timed on one thread pinned to one CPU (`os.sched_setaffinity`, OpenCV at one thread) with
models at `num_threads = 1`: median and 95th percentile of the process's CPU time per frame (the
bar is judged on it), and of the wall clock, which on a shared machine adds the time spent
waiting for the core (the load average is recorded with the figures). The face_recognition pipeline (dlib's
HOG detector without upsampling, its 5-point shape predictor and the same ResNet, from `dlib-bin`)
runs on the same frames against the same gallery for the ratio.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from ..config.face import FaceConfig
from ..face.frames import kiosk_frame
from ..face.images import read_image
from ..face.pipeline import FacePipeline
from .benchmark import IMAGE_SUFFIXES
from .fusion import TrackFusion
from .matching import Matcher

FACE_PX = (130, 160, 190, 220, 250)   # face widths of a walk-up from about 1 m to 0.5 m
BAR_MS = 15.0                         # issue 11: one walk-up frame on one core


@contextmanager
def one_core() -> Iterator[Optional[int]]:
    """Pin the calling thread to one CPU and OpenCV to one thread; yields the CPU (None if not pinnable)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cpu = min(allowed) if allowed else None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        if allowed:
            os.sched_setaffinity(0, allowed)
        cv2.setNumThreads(threads)


def walkup_frames(pipeline: FacePipeline, images: Path, sizes: tuple[int, ...] = FACE_PX, limit: int = 10
                  ) -> list[np.ndarray]:
    """Kiosk-sized frames of the largest face of each photo in `images`, one per face width."""
    frames = []
    for path in sorted(images.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or "chip" in path.name:
            continue
        image = read_image(path)
        found = pipeline.detect(image)
        if not found:
            continue
        frames += [kiosk_frame(image, found[0].box, px) for px in sizes]
        if len(frames) >= limit * len(sizes):
            break
    return frames


def gallery(dim: int, metric: str, people: int, templates: int, seed: int = 0) -> Matcher:
    """A matcher holding `people` persons of `templates` random unit vectors each."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(people * templates, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    matcher = Matcher("bench", dim, metric)
    matcher.add([f"t{i}" for i in range(len(vectors))], [f"p{i // templates}" for i in range(len(vectors))], vectors)
    return matcher


def _stats(wall: list[float], cpu: list[float]) -> dict[str, Any]:
    """Wall-clock and CPU milliseconds per frame. On a machine shared with other work the wall clock
    includes waiting for the core; the CPU time of the (pinned) process is the work itself."""
    w, c = np.asarray(wall), np.asarray(cpu)
    return {"cpu_median_ms": round(float(np.median(c)), 3), "cpu_p95_ms": round(float(np.percentile(c, 95)), 3),
            "wall_median_ms": round(float(np.median(w)), 3), "wall_p95_ms": round(float(np.percentile(w, 95)), 3),
            "n": int(c.size)}


def _time_frames(step: Callable[[np.ndarray], bool], frames: list[np.ndarray], repeat: int
                 ) -> tuple[dict[str, Any], int]:
    """Times `step` `repeat` times per frame (after one untimed call); returns the figures and how many
    frames gave an embedding."""
    wall: list[float] = []
    cpu: list[float] = []
    embedded = 0
    for frame in frames:
        embedded += bool(step(frame))
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            step(frame)
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
    return _stats(wall, cpu), embedded


def measure_pipeline(pipeline: FacePipeline, frames: list[np.ndarray], matcher: Matcher, repeat: int) -> dict:
    threshold = 0.5          # any value: a search costs the same whatever it finds
    fusion = TrackFusion(pipeline.metric, threshold)

    def step(frame: np.ndarray) -> bool:
        faces = pipeline.process(frame)
        if not faces or faces[0].embedding is None:
            return False
        face = faces[0]
        fusion.add(face.embedding, face.score, face.box, 0.0)
        fusion.search(matcher, threshold)
        return True

    figures, embedded = _time_frames(step, frames, repeat)
    return {"model_id": pipeline.model_id, **figures, "frames_with_embedding": embedded,
            "met": figures["cpu_median_ms"] <= BAR_MS}


def measure_face_recognition(frames: list[np.ndarray], matcher: Matcher, repeat: int) -> Optional[dict]:
    """dlib's own pipeline (as the face_recognition package runs it) on the same frames; None without dlib."""
    from .benchmark import dlib_models

    models = dlib_models()
    if models is None:
        return None
    detector, shapes, net, version = models

    def step(frame: np.ndarray) -> bool:
        rgb = np.ascontiguousarray(frame[..., ::-1])
        found = detector(rgb, 0)
        if not found:
            return False
        best = max(found, key=lambda r: r.width())
        matcher.search(np.asarray(net.compute_face_descriptor(rgb, shapes(rgb, best)), np.float32), 0.5)
        return True

    figures, embedded = _time_frames(step, frames, repeat)
    return {"version": version, "detector": "HOG, no upsampling", **figures, "frames_with_embedding": embedded}


def run_walkup(models_dir: Path, images: Path, config: FaceConfig, embedders: list[str], people: int = 1000,
               templates: int = 3, repeat: int = 10, with_dlib: bool = True) -> dict:
    """The walk-up figure for each embedder id (a spec in `models_dir`) and, with dlib-bin, the ratio."""
    config = config.model_copy(update={"num_threads": 1, "mask_every_s": 0.0})   # the mask scored on every frame
    results: dict[str, Any] = {"images": str(images), "face_px": list(FACE_PX), "people": people,
                               "templates_per_person": templates, "bar_ms": BAR_MS, "embedders": {}}
    frames: list[np.ndarray] = []
    with one_core() as cpu:
        results["cpu"] = cpu
        results["load_average"] = [round(v, 2) for v in os.getloadavg()]
        for embedder in embedders:
            pipeline = FacePipeline(config.model_copy(update={"embedder": embedder}), models_dir)
            frames = frames or walkup_frames(pipeline, images)
            if not frames:
                raise ValueError(f"no face found in the photos of {images}")
            matcher = gallery(pipeline.dim, str(pipeline.metric), people, templates)
            results["embedders"][embedder] = measure_pipeline(pipeline, frames, matcher, repeat)
        results["frames"] = len(frames)
        # dlib's pipeline takes ~10x longer per frame: fewer runs give as steady a median.
        reference = measure_face_recognition(frames, gallery(128, "euclidean", people, templates),
                                             max(2, repeat // 4)) if with_dlib else None
    if reference is not None:
        results["face_recognition"] = reference
        results["ratio_to_face_recognition"] = {
            embedder: round(reference["cpu_median_ms"] / ours["cpu_median_ms"], 1)
            for embedder, ours in results["embedders"].items()}
    return results


def format_walkup(results: dict) -> str:
    lines = [f"walk-up frame (640x480, face {results['face_px'][0]}-{results['face_px'][-1]} px, {results['frames']} "
             f"frames; process + fusion + 1:{results['people']} persons x {results['templates_per_person']} "
             f"templates), 1 thread on CPU {results['cpu']}, load average {results['load_average'][0]}:"]
    for embedder, figure in results["embedders"].items():
        ratio = results.get("ratio_to_face_recognition", {}).get(embedder)
        lines.append(f"  {embedder:<16} CPU median {figure['cpu_median_ms']:6.2f} ms  p95 {figure['cpu_p95_ms']:6.2f} ms  "
                     f"(wall {figure['wall_median_ms']:.2f} / {figure['wall_p95_ms']:.2f})  "
                     f"({figure['frames_with_embedding']}/{results['frames']} embedded)  bar {results['bar_ms']:g} ms: "
                     f"{'met' if figure['met'] else 'NOT met'}" + (f"  {ratio}x faster than face_recognition"
                                                                    if ratio else ""))
    if "face_recognition" in results:
        ref = results["face_recognition"]
        lines.append(f"  face_recognition (dlib {ref['version']}, HOG + 5 points + ResNet) CPU median "
                     f"{ref['cpu_median_ms']:.1f} ms  p95 {ref['cpu_p95_ms']:.1f} ms  (wall {ref['wall_median_ms']:.1f} / "
                     f"{ref['wall_p95_ms']:.1f})  ({ref['frames_with_embedding']}/{results['frames']} embedded)")
    return "\n".join(lines)
