"""Verification metrics on distances (lower = same person): accuracy, EER, TAR at a FAR, ROC.

A pair is accepted when distance <= threshold. FAR = accepted impostor pairs / impostor pairs,
TAR = accepted genuine pairs / genuine pairs.

How small a FAR the data can show: with n impostor pairs and no false accept, the 95% upper
bound of the FAR is about 3/n (the "rule of three"), so a FAR target f needs n >= 3/f impostor
pairs (3,000 for 1e-3). Below that the threshold is still given, marked not estimable.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

RULE_OF_THREE = 3.0


@dataclass
class OperatingPoint:
    far_target: float
    threshold: float          # largest threshold whose measured FAR <= target
    tar: float
    far: float                # measured at that threshold
    estimable: bool           # enough impostor pairs for the target (n >= 3 / target)
    impostors_needed: int

    def as_dict(self) -> dict:
        return asdict(self)


def _split(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distances = np.asarray(distances, np.float64)
    same = np.asarray(same, bool)
    return np.sort(distances[same]), np.sort(distances[~same])


def rates(distances: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    """(TAR, FAR) at one threshold."""
    genuine, impostor = _split(distances, same)
    tar = float(np.searchsorted(genuine, threshold, side="right") / max(len(genuine), 1))
    far = float(np.searchsorted(impostor, threshold, side="right") / max(len(impostor), 1))
    return tar, far


def operating_point(distances: np.ndarray, same: np.ndarray, far_target: float) -> OperatingPoint:
    genuine, impostor = _split(distances, same)
    if len(genuine) == 0 or len(impostor) == 0:
        raise ValueError("need both genuine and impostor pairs")
    allowed = int(np.floor(far_target * len(impostor) + 1e-9))   # false accepts the target allows
    if allowed >= len(impostor):
        threshold = float(impostor[-1])
    else:
        # Just below the (allowed+1)-th smallest impostor distance.
        threshold = float(np.nextafter(impostor[allowed], -np.inf))
    tar, far = rates(distances, same, threshold)
    needed = int(np.ceil(RULE_OF_THREE / far_target))
    return OperatingPoint(far_target, threshold, tar, far, len(impostor) >= needed, needed)


def roc_curve(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, FAR, TAR) at every distinct distance, ascending."""
    thresholds = np.unique(np.asarray(distances, np.float64))
    genuine, impostor = _split(distances, same)
    tar = np.searchsorted(genuine, thresholds, side="right") / max(len(genuine), 1)
    far = np.searchsorted(impostor, thresholds, side="right") / max(len(impostor), 1)
    return thresholds, far, tar


def equal_error_rate(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(EER, threshold) where FAR and FRR = 1 - TAR are closest (their mean there)."""
    thresholds, far, tar = roc_curve(distances, same)
    frr = 1.0 - tar
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2), float(thresholds[i])


def best_threshold(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(accuracy, threshold) maximising accuracy; the threshold sits midway between neighbours."""
    d = np.asarray(distances, np.float64)
    s = np.asarray(same, bool)
    order = np.argsort(d)
    d, s = d[order], s[order]
    # Accepting the first k pairs: correct = genuine among them + impostors after them.
    correct = np.concatenate([[0], np.cumsum(s)]) + (np.sum(~s) - np.concatenate([[0], np.cumsum(~s)]))
    k = int(np.argmax(correct))
    if k == 0:
        threshold = d[0] - 1e-6
    elif k == len(d):
        threshold = d[-1] + 1e-6
    else:
        threshold = (d[k - 1] + d[k]) / 2
    return float(correct[k] / len(d)), float(threshold)


def default_folds(same: np.ndarray, folds: int = 10) -> np.ndarray:
    """Deterministic stratified folds for files without their own: pair i of each class goes to fold i % folds."""
    s = np.asarray(same, bool)
    fold = np.empty(len(s), int)
    for label in (True, False):
        idx = np.flatnonzero(s == label)
        fold[idx] = np.arange(len(idx)) % folds
    return fold


def kfold_accuracy(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> dict:
    """Accuracy with the threshold chosen on the other folds (LFW protocol): mean, std, per-fold thresholds."""
    d = np.asarray(distances, np.float64)
    s = np.asarray(same, bool)
    folds = np.asarray(folds)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        test = folds == fold
        _, threshold = best_threshold(d[~test], s[~test])
        accuracies.append(float(np.mean((d[test] <= threshold) == s[test])))
        thresholds.append(threshold)
    return {"folds": len(accuracies), "mean": float(np.mean(accuracies)), "std": float(np.std(accuracies)),
            "thresholds": thresholds}


def summary(distances: np.ndarray, same: np.ndarray, folds: Optional[np.ndarray],
            far_targets: tuple[float, ...] = (1e-2, 1e-3, 1e-4)) -> dict:
    """Every figure of the report for one set of pairs."""
    d = np.asarray(distances, np.float64)
    s = np.asarray(same, bool)
    own_folds = folds is not None
    if folds is None:
        folds = default_folds(s)
    best_acc, best_thr = best_threshold(d, s)
    eer, eer_threshold = equal_error_rate(d, s)
    return {
        "pairs": int(len(d)), "genuine": int(s.sum()), "impostor": int((~s).sum()),
        "accuracy_kfold": kfold_accuracy(d, s, folds) | {"folds_from_file": own_folds},
        "accuracy_best": {"accuracy": best_acc, "threshold": best_thr},
        "eer": {"eer": eer, "threshold": eer_threshold},
        "tar_at_far": [operating_point(d, s, far).as_dict() for far in far_targets],
        "genuine_distance": {"max": float(d[s].max()), "mean": float(d[s].mean())},
        "impostor_distance": {"min": float(d[~s].min()), "mean": float(d[~s].mean())},
    }
