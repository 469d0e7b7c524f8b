"""Skin-to-core model: face temperatures (inner canthi, forehead) and room temperature -> body temperature.

A linear model fitted to the FDA facial/oral temperature study (Wang et al. 2023, PhysioNet,
group 1; both infrared cameras, the four capture rounds averaged per subject):

    body = intercept + a * canthi_max + b * forehead_max + c * ambient

against the oral temperature in monitor mode (`aveOralM`, the thermometer's equilibrium reading,
the study's reference), with `canthiMax` (hottest point of the extended inner-canthus regions) and
`T_FH_Max` (hottest forehead point) as the sites an MLX90640 can be aimed at: the IEC 80601-2-59
reference sites, and unlike the mouth, visible above a mask.

Least squares shrinks predictions towards the mean (regression dilution), which costs fever
sensitivity; the fitted predictions are therefore rescaled to the spread of the oral temperatures
(variance matching), trading a little mean absolute error for sensitivity. `fit` reproduces the
shipped constants from the data; tests check both the constants and the cross-validated error.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FDA_FILES = ("FLIR_group1.csv", "ICI_group1.csv")


@dataclass(frozen=True)
class SkinCoreModel:
    intercept: float
    canthus: float
    forehead: float
    ambient: float
    # canthus - forehead ~ gap_intercept + gap_ambient * ambient (mean gap; for the simulator's inverse)
    gap_intercept: float
    gap_ambient: float

    def body(self, canthus_c: float, forehead_c: float, ambient_c: float) -> float:
        return self.intercept + self.canthus * canthus_c + self.forehead * forehead_c + self.ambient * ambient_c

    def skin(self, body_c: float, ambient_c: float) -> tuple[float, float]:
        """The (canthus, forehead) temperatures this model turns into `body_c`: the simulator's physiology."""
        gap = self.gap_intercept + self.gap_ambient * ambient_c
        canthus = (body_c - self.intercept - self.ambient * ambient_c + self.forehead * gap) / (self.canthus + self.forehead)
        return canthus, canthus - gap


# Fitted by `fit(load_fda(<shared>/data/thermal/fda_facial_oral_temperature))`; see README.
MODEL = SkinCoreModel(intercept=5.9280, canthus=0.6977, forehead=0.2326, ambient=-0.0870,
                      gap_intercept=1.1044, gap_ambient=-0.0294)


@dataclass(frozen=True)
class FdaData:
    subject: np.ndarray   # subject id per row (each subject appears once per camera)
    canthus: np.ndarray
    forehead: np.ndarray
    ambient: np.ndarray
    oral: np.ndarray


def _number(text: str | None) -> float:
    if text is None:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _mean_of(values: dict[str, str], column: str) -> float:
    """Mean over the four capture rounds (columns <name>1..4) of the ones present."""
    rounds = [_number(values.get(f"{column}{k}")) for k in range(1, 5)]
    present = [v for v in rounds if not np.isnan(v)]
    return float(np.mean(present)) if present else float("nan")


def load_fda(directory: Path) -> FdaData:
    """Both group-1 files, one row per subject and camera, rows with a missing value dropped."""
    columns: dict[str, list] = {"subject": [], "canthus": [], "forehead": [], "ambient": [], "oral": []}
    for name in FDA_FILES:
        with open(Path(directory) / name, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        for row in rows[3:]:
            values = dict(zip(rows[2], row, strict=False))
            canthus = _mean_of(values, "canthiMax")
            forehead = _mean_of(values, "T_FH_Max")
            sample = (canthus, forehead, _number(values.get("T_atm")), _number(values.get("aveOralM")))
            if not row or not row[0] or any(np.isnan(sample)):
                continue
            columns["subject"].append(row[0])
            for key, number in zip(("canthus", "forehead", "ambient", "oral"), sample, strict=True):
                columns[key].append(number)
    return FdaData(**{key: np.asarray(values) for key, values in columns.items()})


def _design(canthus: np.ndarray, forehead: np.ndarray, ambient: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(canthus)), canthus, forehead, ambient])


def fit(data: FdaData, rows: np.ndarray | None = None) -> SkinCoreModel:
    """Least squares, then variance matching of the predictions to the oral temperatures."""
    rows = np.ones(len(data.oral), dtype=bool) if rows is None else rows
    x = _design(data.canthus[rows], data.forehead[rows], data.ambient[rows])
    y = data.oral[rows]
    weights, *_ = np.linalg.lstsq(x, y, rcond=None)
    predicted = x @ weights
    stretch = y.std() / predicted.std()
    slopes = weights[1:] * stretch
    intercept = y.mean() - stretch * predicted.mean() + weights[0] * stretch
    gap, *_ = np.linalg.lstsq(np.column_stack([np.ones(rows.sum()), data.ambient[rows]]),
                              data.canthus[rows] - data.forehead[rows], rcond=None)
    return SkinCoreModel(float(intercept), *map(float, slopes), *map(float, gap))


@dataclass(frozen=True)
class Validation:
    mae_c: float
    sensitivity: float
    specificity: float
    threshold_c: float
    positives: int
    rows: int


def cross_validate(data: FdaData, threshold_c: float, folds: int = 10, seed: int = 0) -> Validation:
    """K-fold cross-validation with folds by subject (both cameras' rows of a subject stay together)."""
    subjects = np.unique(data.subject)
    order = np.random.default_rng(seed).permutation(len(subjects))
    fold_of = dict(zip(subjects[order], np.arange(len(subjects)) % folds, strict=True))
    fold = np.array([fold_of[s] for s in data.subject])
    predicted = np.empty(len(data.oral))
    for k in range(folds):
        model = fit(data, fold != k)
        test = fold == k
        predicted[test] = [model.body(c, f, a) for c, f, a in
                           zip(data.canthus[test], data.forehead[test], data.ambient[test], strict=True)]
    truth, flagged = data.oral >= threshold_c, predicted >= threshold_c
    return Validation(mae_c=float(np.mean(np.abs(predicted - data.oral))),
                      sensitivity=float((flagged & truth).sum() / max(truth.sum(), 1)),
                      specificity=float((~flagged & ~truth).sum() / max((~truth).sum(), 1)),
                      threshold_c=threshold_c, positives=int(truth.sum()), rows=len(data.oral))
