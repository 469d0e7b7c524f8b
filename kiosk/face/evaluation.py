"""`kiosk eval`: embed every image of a pairs file with the configured pipeline and report.

Each image is embedded once: largest face, no quality gates (the gates are counted, not applied,
so that the figures are about the model and alignment). Test sets of pre-cropped faces (MFR2's
160 px crops) can be too tight for the detector; an image without a detection is tried once
more with a 25% border, and the report counts those retries. Pairs with an image that has no
face at all are left out of the figures and counted as failures.

The headline figures compare pairs as the kiosk does with its configuration: with `mask.upper_face`
(on by default) a pair in which either image's mask score (the pipeline's `mask` scorer, the daemon's
own) is at least `mask.threshold` is compared by upper-face embeddings, like a masked walk-up with
the upper-face templates; other pairs by the whole face. Without a masked image (LFW) that is the
plain comparison. The whole-face figures of every pair are kept in `bare`.

Masked faces (kiosk.face.masked), further rules reported beside the headline:
- `--masked-templates`: each image of a pair in turn plays the enrolled person (its bare embedding
  plus one per synthetic mask style) and the other the walk-up; the pair's distance is the best
  (smallest) over both directions, as 1:N matching scores a person by its best template.
- `--upper-face`: when the mask score (the pipeline's `mask` scorer, the daemon's own) of either
  image is at least `mask.threshold`, the pair is compared by upper-face embeddings, else as usual.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..config.recognition import RecognitionConfig, SecurityLevel
from .errors import ImageError
from .images import read_image
from .metrics import FAR_TARGETS
from .pairs import Pair, identity_of
from .pipeline import FacePipeline
from .quality import assess
from .synthetic_mask import MASK_STYLES
from .verification import default_folds, kfold_accuracy, rates, roc_curve, summary

BORDER = 0.25
UPPER_GALLERY_SIZES = (1, 10, 100)   # upper-face templates enrolled, for `upper_face_at_level`


@dataclass
class Embedded:
    vectors: dict[Path, np.ndarray] = field(default_factory=dict)
    failures: dict[Path, str] = field(default_factory=dict)
    retried_with_border: int = 0
    quality_failures: dict[str, int] = field(default_factory=dict)
    masked: dict[Path, list[np.ndarray]] = field(default_factory=dict)    # synthetic-mask templates
    upper: dict[Path, np.ndarray] = field(default_factory=dict)           # upper-face embeddings
    mask_scores: dict[Path, float] = field(default_factory=dict)


def embed_images(pipeline: FacePipeline, paths: list[Path], progress: bool = True, *,
                 masked_templates: bool = False, upper_face: bool = False) -> Embedded:
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
        out.vectors[path] = pipeline.embedder.embed_face(image, face.keypoints, face.layout, chip)
        if masked_templates:
            out.masked[path] = pipeline.masked_embeddings(image, face.keypoints, face.layout)
        if upper_face:
            out.upper[path] = pipeline.upper_embedding(image, face.keypoints, face.layout)
            out.mask_scores[path] = pipeline.mask.score(image, face)
    return out


def all_impostor_pairs(paths: list[Path]) -> list[Pair]:
    """Every pair of images of different identities (identity = folder name)."""
    return [Pair(a, b, False) for a, b in itertools.combinations(sorted(paths), 2) if identity_of(a) != identity_of(b)]


def evaluate(pipeline: FacePipeline, pairs: list[Pair], level: SecurityLevel, all_impostors: bool = False,
             progress: bool = True, *, masked_templates: bool = False, upper_face: bool = False,
             mask_threshold: float = 0.5, as_kiosk: bool = True
             ) -> tuple[dict, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The JSON report and the (distances, same) arrays per subset, for plotting. `as_kiosk` (config
    mask.upper_face): the headline compares masked pairs by the upper face, as the kiosk matches them."""
    images = sorted({p.a for p in pairs} | {p.b for p in pairs})
    embedded = embed_images(pipeline, images, progress, masked_templates=masked_templates,
                            upper_face=upper_face or as_kiosk)
    usable = [p for p in pairs if p.a in embedded.vectors and p.b in embedded.vectors]
    if all_impostors:
        usable = [p for p in usable if p.same] + all_impostor_pairs(list(embedded.vectors))
    if not any(p.same for p in usable) or all(p.same for p in usable):
        raise ValueError("after failures there are not both genuine and impostor pairs left")

    def bare(p: Pair) -> float:
        return pipeline.distance(embedded.vectors[p.a], embedded.vectors[p.b])

    def arrays(subset: list[Pair], rule: Callable[[Pair], float] = bare) -> tuple[np.ndarray, np.ndarray]:
        return np.array([rule(p) for p in subset]), np.array([p.same for p in subset])

    masked = {path: score >= mask_threshold for path, score in embedded.mask_scores.items()}
    headline = _upper_face_rule(pipeline, embedded, masked) if as_kiosk else bare
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    distances, same = arrays(usable, headline)
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
        "comparison": (f"as the kiosk (mask.upper_face): upper-face embeddings when either image's mask score >= "
                       f"{mask_threshold:g}, else the whole face" if as_kiosk else "whole face"),
        **summary(distances, same, folds),
    }
    report["security_level"] = _security_level(pipeline, distances, same, level, report["tar_at_far"])
    kinds = sorted({p.kind for p in usable if p.kind})
    if kinds:
        report["by_kind"] = {}
        for kind in kinds:
            subset = [p for p in usable if p.kind == kind]
            d, s = arrays(subset, headline)
            if s.any() and (~s).any():
                report["by_kind"][kind] = summary(d, s, None)
                curves[kind] = (d, s)
    if as_kiosk:
        report["images_masked"] = int(sum(masked.get(p, False) for p in embedded.vectors))
        upper_pairs = [p for p in usable if masked.get(p.a) or masked.get(p.b)]
        report["upper_face_at_level"] = _upper_at_level(pipeline, level, *arrays(upper_pairs, headline))
        report["bare"] = {"rule": "whole-face embeddings for every pair (no upper face)",
                          **_section(usable, folds, kinds, arrays, bare, curves, "whole face")}
    if masked_templates:
        rule = _best_template_rule(pipeline, embedded)
        report["masked_templates"] = {
            "rule": "each image in turn is the enrolled person (bare + one template per synthetic mask style), "
                    "the other the walk-up; the smallest distance counts",
            "styles": len(MASK_STYLES), **_section(usable, folds, kinds, arrays, rule, curves, "masked templates")}
    if upper_face:
        rule = _upper_face_rule(pipeline, embedded, masked)
        report["upper_face"] = {
            "rule": "upper-face embeddings (lower face greyed out) when either image's mask score >= mask_threshold, "
                    "else the whole face",
            "mask_threshold": mask_threshold, "images_masked": int(sum(masked.values())),
            "mask_score_vs_kind": _mask_agreement(usable, masked),
            **_section(usable, folds, kinds, arrays, rule, curves, "upper face")}
        labelled = _labels_from_kind(usable)
        if labelled:
            d, s = arrays(usable, _upper_face_rule(pipeline, embedded, {**masked, **labelled}))
            report["upper_face"]["accuracy_kfold_with_kind_labels"] = kfold_accuracy(
                d, s, folds if folds is not None else default_folds(s))["mean"]
    return report, curves


def _section(usable: list[Pair], folds: Optional[np.ndarray], kinds: list[str], arrays: Callable,
             rule: Callable[[Pair], float], curves: dict, name: str) -> dict:
    """The summary figures of one masked-face rule, overall and by kind."""
    d, s = arrays(usable, rule)
    curves[f"all, {name}"] = (d, s)
    out = summary(d, s, folds)
    by_kind = {}
    for kind in kinds:
        d, s = arrays([p for p in usable if p.kind == kind], rule)
        if s.any() and (~s).any():
            by_kind[kind] = summary(d, s, None)
    if by_kind:
        out["by_kind"] = by_kind
    return out


def _upper_at_level(pipeline: FacePipeline, level: SecurityLevel, distances: np.ndarray, same: np.ndarray
                    ) -> Optional[list[dict]]:
    """The pairs compared by the upper face, at the kiosk's threshold for masked faces with N upper-face templates
    enrolled: share of genuine pairs accepted (TAR) and of impostor pairs accepted (FAR). None without scores."""
    if not len(same):
        return None
    out = []
    for n in UPPER_GALLERY_SIZES:
        point = pipeline.upper_operating_point(RecognitionConfig(security_level=level), n)
        if point is None:      # no upper-face stranger scores: the kiosk matches masked faces whole
            return None
        tar, far = rates(distances, same, point.threshold)
        out.append({"n_enrolled": n, "threshold": point.threshold, "genuine": int(same.sum()),
                    "impostor": int((~same).sum()), "tar": tar, "far": far})
    return out


def _best_template_rule(pipeline: FacePipeline, embedded: Embedded) -> Callable[[Pair], float]:
    def rule(p: Pair) -> float:
        a, b = embedded.vectors[p.a], embedded.vectors[p.b]
        candidates = [pipeline.distance(a, b)]
        candidates += [pipeline.distance(t, b) for t in embedded.masked.get(p.a, [])]
        candidates += [pipeline.distance(a, t) for t in embedded.masked.get(p.b, [])]
        return min(candidates)
    return rule


def _upper_face_rule(pipeline: FacePipeline, embedded: Embedded, masked: dict[Path, bool]) -> Callable[[Pair], float]:
    def rule(p: Pair) -> float:
        if masked.get(p.a) or masked.get(p.b):
            return pipeline.distance(embedded.upper[p.a], embedded.upper[p.b])
        return pipeline.distance(embedded.vectors[p.a], embedded.vectors[p.b])
    return rule


def _labels_from_kind(pairs: list[Pair]) -> dict[Path, bool]:
    """Masked or not per image, from kinds `masked-masked`, `unmasked-unmasked` and `masked-unmasked` (one of
    each, in either order: resolved through the image's other pairs). Unresolved images are left out."""
    labels: dict[Path, bool] = {}
    mixed = []
    for p in pairs:
        if p.kind in ("masked-masked", "unmasked-unmasked"):
            labels[p.a] = labels[p.b] = p.kind == "masked-masked"
        elif p.kind == "masked-unmasked":
            mixed.append(p)
    changed = True
    while changed:
        changed = False
        for p in mixed:
            for known, other in ((p.a, p.b), (p.b, p.a)):
                if known in labels and other not in labels:
                    labels[other] = not labels[known]
                    changed = True
    return labels


def _mask_agreement(pairs: list[Pair], masked: dict[Path, bool]) -> Optional[dict]:
    labels = _labels_from_kind(pairs)
    if not labels:
        return None
    agree = sum(1 for path, label in labels.items() if masked.get(path) == label)
    return {"images": len(labels), "agree": agree,
            "masked_missed": sum(1 for path, label in labels.items() if label and not masked.get(path)),
            "bare_flagged": sum(1 for path, label in labels.items() if not label and masked.get(path))}


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
    for target in FAR_TARGETS.values():
        ax.axvline(target, color="grey", lw=0.5, ls=":")
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
