"""`kiosk eval`: embed every image of a pairs file with the configured pipeline and report.

Each image is embedded once: largest face, no quality gates (the gates are counted, not applied,
so that the figures are about the model and alignment). Test sets of pre-cropped faces (MFR2's
160 px crops) can be too tight for the detector; an image without a detection is tried once
more with a 25% border, and the report counts those retries. Pairs with an image that has no
face at all are left out of the figures and counted as failures.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..config.recognition import SecurityLevel
from .errors import ImageError
from .images import read_image
from .metrics import FAR_TARGETS
from .pairs import Pair, identity_of
from .pipeline import FacePipeline
from .quality import assess
from .verification import rates, roc_curve, summary

BORDER = 0.25


@dataclass
class Embedded:
    vectors: dict[Path, np.ndarray] = field(default_factory=dict)
    failures: dict[Path, str] = field(default_factory=dict)
    retried_with_border: int = 0
    quality_failures: dict[str, int] = field(default_factory=dict)


def embed_images(pipeline: FacePipeline, paths: list[Path], progress: bool = True) -> Embedded:
    from tqdm import tqdm

    out = Embedded()
    for path in tqdm(paths, desc="embedding", unit="img", disable=not progress):
        try:
            image = read_image(path)
        except ImageError as exc:
            out.failures[path] = str(exc)
            continue
        detections = pipeline.detect(image)
        if not detections:
            pad = int(max(image.shape[:2]) * BORDER)
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
            detections = pipeline.detect(image)
            out.retried_with_border += 1
        if not detections:
            out.failures[path] = "no face found"
            continue
        face = detections[0]
        chip = pipeline.embedder.chip(image, face.keypoints, face.layout)
        quality = assess(face, chip, pipeline.config)
        if not quality.ok:
            out.quality_failures[quality.reason or "?"] = out.quality_failures.get(quality.reason or "?", 0) + 1
        out.vectors[path] = pipeline.embedder.embed(chip)
    return out


def all_impostor_pairs(paths: list[Path]) -> list[Pair]:
    """Every pair of images of different identities (identity = folder name)."""
    return [Pair(a, b, False) for a, b in itertools.combinations(sorted(paths), 2) if identity_of(a) != identity_of(b)]


def evaluate(pipeline: FacePipeline, pairs: list[Pair], level: SecurityLevel, all_impostors: bool = False,
             progress: bool = True) -> tuple[dict, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The JSON report and the (distances, same) arrays per subset, for plotting."""
    images = sorted({p.a for p in pairs} | {p.b for p in pairs})
    embedded = embed_images(pipeline, images, progress)
    usable = [p for p in pairs if p.a in embedded.vectors and p.b in embedded.vectors]
    if all_impostors:
        usable = [p for p in usable if p.same] + all_impostor_pairs(list(embedded.vectors))
    if not any(p.same for p in usable) or all(p.same for p in usable):
        raise ValueError("after failures there are not both genuine and impostor pairs left")

    def arrays(subset: list[Pair]) -> tuple[np.ndarray, np.ndarray]:
        d = np.array([pipeline.distance(embedded.vectors[p.a], embedded.vectors[p.b]) for p in subset])
        return d, np.array([p.same for p in subset])

    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    distances, same = arrays(usable)
    folds = np.array([p.fold for p in usable]) if usable and all(p.fold is not None for p in usable) else None
    curves["all"] = (distances, same)
    report: dict = {
        "model_id": pipeline.model_id, "metric": pipeline.metric.value, "detector": pipeline.detector.name,
        "landmarks": pipeline.landmarks.name,
        "images": len(images), "images_without_face": len(embedded.failures),
        "image_failures": {str(k): v for k, v in sorted(embedded.failures.items())},
        "images_retried_with_border": embedded.retried_with_border,
        "quality_gate_failures_not_applied": embedded.quality_failures,
        "pairs_in_file": len(pairs),
        "pairs_failed": sum(1 for p in pairs if p.a not in embedded.vectors or p.b not in embedded.vectors),
        "impostors": "every cross-identity image pair" if all_impostors else "the file's impostor pairs",
        **summary(distances, same, folds),
    }
    report["security_level"] = _security_level(pipeline, distances, same, level, report["tar_at_far"])
    kinds = sorted({p.kind for p in usable if p.kind})
    if kinds:
        report["by_kind"] = {}
        for kind in kinds:
            subset = [p for p in usable if p.kind == kind]
            d, s = arrays(subset)
            if s.any() and (~s).any():
                report["by_kind"][kind] = summary(d, s, None)
                curves[kind] = (d, s)
    return report, curves


def _security_level(pipeline: FacePipeline, distances: np.ndarray, same: np.ndarray, level: SecurityLevel,
                    points: list[dict]) -> dict:
    target = FAR_TARGETS[level]
    point = next(p for p in points if p["far_target"] == target)
    out = {"level": level.value, "far_target": target, "threshold_meeting_target": point["threshold"],
           "tar_at_that_threshold": point["tar"], "estimable": point["estimable"]}
    if not point["estimable"]:
        impostors = int((~np.asarray(same, bool)).sum())
        out["note"] = (f"{impostors} impostor pairs cannot show a FAR of {target:g}: that needs at least "
                       f"{point['impostors_needed']} (rule of three); the threshold is where no impostor was accepted")
    configured: Optional[float] = pipeline.thresholds.get(level)
    if configured is not None:
        tar, far = rates(distances, same, configured)
        out["configured_threshold"] = configured
        out["configured_threshold_measured"] = {"tar": tar, "far": far}
    return out


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for name, (d, s) in curves.items():
        _, far, tar = roc_curve(d, s)
        floor = 1.0 / max(int((~s).sum()), 1)
        ax.plot(np.maximum(far, floor / 2), tar, label=f"{name} ({int(s.sum())} gen / {int((~s).sum())} imp)")
    for far in FAR_TARGETS.values():
        ax.axvline(far, color="grey", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_ylim(0, 1.01)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
