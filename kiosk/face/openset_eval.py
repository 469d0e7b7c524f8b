"""Measuring the open-set model: `kiosk eval strangers` (stranger scores for a model's spec) and
`kiosk eval open-set` (FPIR and FNIR with a real gallery).

Folders hold `<identity>/<images>`. The stranger scores are fitted on one half of a strangers
folder, the identities whose name's sha256 starts with an even byte (`in_fit_half`); the open-set
evaluation never uses that half as stranger probes, so the FPIR it measures is not the data the
threshold was derived from.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..config.recognition import SECURITY_LEVEL_FPIR, RecognitionConfig
from .evaluation import embed_images
from .images import IMAGE_SUFFIXES
from .metrics import distances
from .openset import fit_stranger_scores
from .pairs import read_pairs
from .pipeline import FacePipeline
from .spec import StrangerScores

FIT_HALF_RULE = "identities whose name's sha256 starts with an even byte"
GALLERY_SIZES = (10, 100, 1000)
FPIR_TARGETS = (1e-2, 1e-3)
RULE_OF_THREE = 3.0


def _short(path: Path) -> str:
    """A data path without the machine-specific prefix (its last three parts), for the spec and reports."""
    return "/".join(Path(path).parts[-3:])


def in_fit_half(identity: str) -> bool:
    """The half of a strangers folder the stranger scores are fitted on (deterministic, by name)."""
    return hashlib.sha256(identity.encode("utf-8")).digest()[0] % 2 == 0


def _hash_order(identity: str) -> str:
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def identity_images(root: Path) -> dict[str, list[Path]]:
    """`<root>/<identity>/<images>`: every identity's images sorted by name; ValueError when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            found[folder.name] = images
    if not found:
        raise ValueError(f"{root}: no <identity>/<image> folders")
    return found


def pair_distances(pipeline: FacePipeline, vectors: np.ndarray, identities: list[str]) -> np.ndarray:
    """Distances of every pair of rows that belong to different identities."""
    labels = np.asarray(identities)
    out = []
    for i in range(len(vectors) - 1):
        d = pipeline.distances(vectors[i + 1:], vectors[i])
        out.append(d[labels[i + 1:] != labels[i]])
    return np.concatenate(out) if out else np.zeros(0)


# -- kiosk eval strangers ----------------------------------------------------------------------------
def measure_stranger_scores(pipeline: FacePipeline, strangers: Path, genuine_pairs: Path, half: str = "fit",
                            progress: bool = True, *, upper_face: bool = False) -> StrangerScores:
    """Impostor distances of every cross-identity image pair in `strangers` (its fit half, or all of it) and the
    genuine pairs of a pairs file, summarised for the spec. With `upper_face`, of the upper-face embeddings
    (kiosk.face.masked): the scores of the upper-face space, in which the kiosk matches masked faces."""
    by_identity = identity_images(strangers)
    chosen = {k: v for k, v in by_identity.items() if half == "all" or in_fit_half(k)}
    paths = [p for images in chosen.values() for p in images]
    pairs = [p for p in read_pairs(genuine_pairs) if p.same]
    if not pairs:
        raise ValueError(f"{genuine_pairs}: no genuine pairs")
    embedded = embed_images(pipeline, sorted(set(paths) | {p.a for p in pairs} | {p.b for p in pairs}), progress,
                            upper_face=upper_face)
    vectors = embedded.upper if upper_face else embedded.vectors
    kept = [p for p in paths if p in vectors]
    impostor = pair_distances(pipeline, np.stack([vectors[p] for p in kept]), [p.parent.name for p in kept])
    genuine = np.array([pipeline.distance(vectors[p.a], vectors[p.b]) for p in pairs
                        if p.a in vectors and p.b in vectors])
    model_id = pipeline.upper_model_id if upper_face else pipeline.model_id
    which = f"the fit half ({FIT_HALF_RULE})" if half == "fit" else "all identities"
    measured_on = (f"{_short(strangers)}: {which}, {len(chosen)} of {len(by_identity)} identities, {len(kept)} images with a "
                   f"face of {len(paths)}; every cross-identity pair; {model_id}, detector "
                   f"{pipeline.detector.name}, landmarks {pipeline.landmarks.name}; `kiosk eval strangers`"
                   + (" --upper-face" if upper_face else ""))
    genuine_on = (f"{_short(genuine_pairs)}: {len(genuine)} genuine pairs with a face of {len(pairs)}; {model_id}, "
                  f"detector {pipeline.detector.name}, landmarks {pipeline.landmarks.name}")
    return fit_stranger_scores(impostor, genuine, measured_on, genuine_on)


# -- kiosk eval open-set -----------------------------------------------------------------------------
@dataclass
class OpenSetSplit:
    """Who is enrolled and who walks up, decided before any image is embedded."""

    enrolled: dict[str, Path]                   # identity -> its enrolled image, in gallery fill order
    genuine: dict[str, list[Path]]              # identity -> its probe images
    strangers: list[Path]
    description: dict = field(default_factory=dict)


def split_open_set(enrolled_dir: Path, strangers_dirs: list[Path], fillers_dir: Optional[Path] = None,
                   n_fillers: int = 0) -> OpenSetSplit:
    """The first image (by name) of each --enrolled identity is enrolled, the rest are genuine probes; identities
    with probes come first in the gallery, then one-image ones, then `n_fillers` identities of --fillers: its fit
    half first (those are never strangers), then the other half in sha256 order. The other-half fillers not
    enrolled, and every image of --strangers, are stranger probes; fit-half fillers not enrolled are left out."""
    own = identity_images(enrolled_dir)
    with_probes = [k for k in own if len(own[k]) > 1]
    one_image = [k for k in own if len(own[k]) == 1]
    enrolled = {k: own[k][0] for k in with_probes + one_image}
    genuine = {k: own[k][1:] for k in with_probes}
    fillers = identity_images(fillers_dir) if fillers_dir is not None else {}
    order = sorted(fillers, key=lambda k: (not in_fit_half(k), _hash_order(k)))
    if n_fillers > len(order):
        raise ValueError(f"--n-fillers {n_fillers}: {fillers_dir} holds {len(order)} identities")
    for k in order[:n_fillers]:
        if k in enrolled:
            raise ValueError(f"{k} is in both {enrolled_dir} and {fillers_dir}")
        enrolled[k] = fillers[k][0]
    leftover = order[n_fillers:]
    left_out = [k for k in leftover if in_fit_half(k)]
    stranger_ids = {k: fillers[k] for k in leftover if not in_fit_half(k)}
    for folder in strangers_dirs:
        for k, images in identity_images(folder).items():
            if k in enrolled or k in stranger_ids:
                raise ValueError(f"{k} in {folder} is also enrolled or already a stranger")
            stranger_ids[k] = images
    description = {
        "enrolled_dir": str(enrolled_dir), "fillers_dir": str(fillers_dir) if fillers_dir else None,
        "strangers_dirs": [str(p) for p in strangers_dirs],
        "rule": "first image by name of each enrolled identity is enrolled, the rest are genuine probes; fillers: "
                f"the fit half ({FIT_HALF_RULE}) first, then the other half in sha256(name) order; fillers not "
                "enrolled are strangers unless in the fit half (left out: the stranger scores were fitted on them)",
        "identities_with_probes": len(with_probes), "one_image_enrolled": len(one_image),
        "fillers_enrolled": min(n_fillers, len(order)),
        "fillers_enrolled_from_fit_half": sum(1 for k in order[:n_fillers] if in_fit_half(k)),
        "fillers_left_out_fit_half": len(left_out), "stranger_identities": len(stranger_ids),
        "stranger_identities_from_fillers": len(leftover) - len(left_out),
    }
    return OpenSetSplit(enrolled, genuine, [p for images in stranger_ids.values() for p in images], description)


@dataclass
class Trials:
    """Per probe: the distances the decision depends on, against one gallery."""

    stranger_best: np.ndarray    # nearest enrolled identity, per stranger probe
    genuine_own: np.ndarray      # distance to the probe's own identity
    genuine_other: np.ndarray    # nearest other identity
    galleries: int = 1           # disjoint galleries pooled into these trials

    def rates(self, threshold: float) -> tuple[float, float]:
        """(FPIR, FNIR): a stranger within the threshold of anyone is a false accept; an enrolled person is
        missed unless their own template is within it and nearer than everyone else's."""
        fpir = float(np.mean(self.stranger_best <= threshold)) if len(self.stranger_best) else float("nan")
        hit = (self.genuine_own <= threshold) & (self.genuine_own < self.genuine_other)
        return fpir, float(1.0 - np.mean(hit)) if len(hit) else float("nan")

    def det(self) -> tuple[np.ndarray, np.ndarray]:
        """(FPIR, FNIR) at every distinct threshold, ascending."""
        thresholds = np.unique(np.concatenate([self.stranger_best, self.genuine_own]))
        s = np.sort(self.stranger_best)
        fpir = np.searchsorted(s, thresholds, side="right") / max(len(s), 1)
        fnir = np.array([self.rates(t)[1] for t in thresholds])
        return fpir, fnir

    def at_fpir(self, target: float) -> tuple[float, float, float]:
        """(threshold, FPIR, FNIR) at the largest threshold whose FPIR <= target."""
        s = np.sort(self.stranger_best)
        allowed = int(np.floor(target * len(s) + 1e-9))
        threshold = float(s[-1]) if allowed >= len(s) else float(np.nextafter(s[allowed], -np.inf))
        return (threshold, *self.rates(threshold))


def _trials(matrix: np.ndarray, strangers: np.ndarray, genuine: np.ndarray, genuine_col: np.ndarray,
            columns: np.ndarray) -> Trials:
    """Trials against the gallery made of `columns` of the probe-by-gallery distance matrix; genuine probes whose
    identity is not among them are left out."""
    sub = matrix[:, columns]
    position = np.full(matrix.shape[1], -1)
    position[columns] = np.arange(len(columns))
    own_position = position[genuine_col]
    keep = own_position >= 0
    g = sub[genuine[keep]]
    rows, own_position = np.arange(len(g)), own_position[keep]
    own = g[rows, own_position]
    other = g.copy()
    other[rows, own_position] = np.inf
    return Trials(sub[strangers].min(axis=1), own, other.min(axis=1))


def _pool(parts: list[Trials]) -> Trials:
    return Trials(np.concatenate([t.stranger_best for t in parts]), np.concatenate([t.genuine_own for t in parts]),
                  np.concatenate([t.genuine_other for t in parts]), galleries=len(parts))


def evaluate_open_set(pipeline: FacePipeline, split: OpenSetSplit, recognition: RecognitionConfig,
                      progress: bool = True) -> tuple[dict, dict[int, Trials]]:
    """The JSON report and the trials per gallery size (for the DET plot)."""
    genuine_paths = [p for images in split.genuine.values() for p in images]
    images = sorted(set(split.enrolled.values()) | set(genuine_paths) | set(split.strangers))
    embedded = embed_images(pipeline, images, progress)
    gallery_ids = [k for k, p in split.enrolled.items() if p in embedded.vectors]
    column = {k: i for i, k in enumerate(gallery_ids)}
    probes: list[tuple[Optional[str], Path]] = [(None, p) for p in split.strangers if p in embedded.vectors]
    probes += [(k, p) for k, paths in split.genuine.items() if k in column for p in paths if p in embedded.vectors]
    if not any(k is None for k, _ in probes) or all(k is None for k, _ in probes):
        raise ValueError("after images without a face there are not both stranger probes and genuine probes of "
                         "enrolled identities left")
    gallery = np.stack([embedded.vectors[split.enrolled[k]] for k in gallery_ids])
    matrix = np.stack([distances(gallery, embedded.vectors[p], pipeline.metric) for _, p in probes])
    strangers = np.array([i for i, (k, _) in enumerate(probes) if k is None], int)
    genuine = np.array([i for i, (k, _) in enumerate(probes) if k is not None], int)
    genuine_col = np.array([column[probes[i][0]] for i in genuine], int)
    with_probes = [column[k] for k in split.genuine if k in column]
    rest = [column[k] for k in gallery_ids if k not in split.genuine]
    n_total = len(gallery_ids)

    trials: dict[int, Trials] = {}
    skipped = []
    for n in sorted({*GALLERY_SIZES, n_total}):
        if n > n_total:
            skipped.append({"n_enrolled": n, "reason": f"only {n_total} identities can be enrolled from this data"})
            continue
        if n <= len(with_probes):
            ordered = sorted(with_probes, key=lambda c: _hash_order(gallery_ids[c]))
            groups = [np.array(ordered[i:i + n]) for i in range(0, len(ordered) - n + 1, n)]
        else:
            groups = [np.array(with_probes + rest[: n - len(with_probes)])]
        trials[n] = _pool([_trials(matrix, strangers, genuine, genuine_col, g) for g in groups])

    full = trials[n_total]
    point = pipeline.operating_point(recognition, n_total)
    fpir, fnir = full.rates(point.threshold)
    report = {
        "model_id": pipeline.model_id, "metric": pipeline.metric.value, "detector": pipeline.detector.name,
        "split": split.description | {
            "enrolled": n_total, "enrolled_images_without_face": len(split.enrolled) - n_total,
            "stranger_probes": int(len(strangers)), "genuine_probes": int(len(genuine)),
            "probe_images_without_face": sum(1 for p in split.strangers + genuine_paths if p not in embedded.vectors)},
        "stranger_scores_measured_on": pipeline.spec.stranger_scores.measured_on
        if pipeline.spec.stranger_scores else None,
        "at_security_level": {
            "level": point.level, "threshold": point.threshold, "n_enrolled": n_total, "fpir": fpir, "fnir": fnir,
            "fpir_target": point.fpir_target, "expected_fpir": point.expected_fpir,
            "expected_fnir": point.expected_fnir, "warning": point.warning,
            "strangers_accepted": int(np.sum(full.stranger_best <= point.threshold)),
            "fpir_estimable": bool(point.fpir_target is None or len(strangers) >= RULE_OF_THREE / point.fpir_target)},
        "fnir_at_fpir": [_at_fpir(n, t, target, len(strangers)) for n, t in trials.items() for target in FPIR_TARGETS],
        "not_evaluated": skipped,
        "levels": {level.value: fpir_value for level, fpir_value in SECURITY_LEVEL_FPIR.items()},
        "notes": "one template per enrolled identity (N = identities); the policy's min_margin is not applied; "
                 "galleries smaller than the identities with probes are disjoint groups of them, pooled",
    }
    return report, trials


def _at_fpir(n: int, trials: Trials, target: float, n_strangers: int) -> dict:
    threshold, fpir, fnir = trials.at_fpir(target)
    needed = int(np.ceil(RULE_OF_THREE / target))
    return {"n_enrolled": n, "galleries": trials.galleries, "fpir_target": target,
            "threshold": threshold, "fpir": fpir, "fnir": fnir, "stranger_probes": n_strangers,
            "genuine_trials": int(len(trials.genuine_own)), "estimable": n_strangers >= needed,
            "strangers_needed": needed}


def plot_det(trials: dict[int, Trials], report: dict, path: Path) -> None:
    """FNIR against FPIR per gallery size, with the kiosk's operating point at the security level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for n, t in trials.items():
        fpir, fnir = t.det()
        floor = 1.0 / max(len(t.stranger_best), 1)
        ax.step(np.maximum(fpir, floor / 2), fnir, where="post", label=f"N = {n}")
    level = report["at_security_level"]
    ax.plot([max(level["fpir"], 0.5 / report["split"]["stranger_probes"])], [level["fnir"]], "k*", ms=10,
            label=f"{level['level']} at N = {level['n_enrolled']} (threshold {level['threshold']:.3f})")
    for target in FPIR_TARGETS:
        ax.axvline(target, color="grey", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("FPIR (strangers accepted as someone; 0 drawn at half of 1 / stranger trials)")
    ax.set_ylabel("FNIR (enrolled people missed)")
    ax.set_ylim(0, 1.01)
    ax.set_title(f"open set: {report['model_id']}, {report['detector']}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
