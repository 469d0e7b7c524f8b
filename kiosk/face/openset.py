"""Open-set security levels: the distance threshold that lets a given share of strangers through.

A walk-up stranger is compared with every enrolled template, and is accepted as someone when any
comparison falls within the threshold. With a per-comparison false-match rate FMR(t) and N
templates, the false positive identification rate is

    FPIR(t, N) = 1 - (1 - FMR(t)) ** N

(comparisons taken as independent; templates of one person are alike, so counting templates rather
than persons errs on the strict side). A security level names an FPIR; the threshold in force is
FMR^-1(1 - (1 - FPIR) ** (1 / N)), recomputed whenever N changes.

FMR(t) comes from the model's stranger scores (kiosk.face.spec.StrangerScores): interpolated
between measured points where impostor pairs are dense (down to FMR 1e-3), and from a fitted tail
below that (1e-6 at N = 1,000 and FPIR 1e-3 is far beyond 70,000 measured pairs). The tail is a
straight line in probit scale (a normal tail) fitted to the empirical quantiles from FMR 1e-2 down to
20 pairs; fitted on one half of lfw_strangers and checked against all 457,000 cross-identity pairs
of ../shared it was within a factor 1.5 at FMR 1e-5 for dlib and MobileFaceNet, where a generalised
Pareto tail (free shape) was 7x too lenient for MobileFaceNet and an exponential one 5x too strict.
The expected false negative identification rate (FNIR) at a threshold is the share of genuine
pairs farther apart.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Optional

import numpy as np

from .spec import ScoreTail, StrangerScores

FMR_POINTS = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)   # measured points; the last starts the tail
FIT_FROM = 0.01            # the tail is fitted to the quantiles from this false-match rate ...
FIT_PAIRS = 20             # ... down to the rate of this many impostor pairs
FIT_POINTS = 20            # quantiles (log-spaced rates) in the fit
EXTRAPOLATION = 100.0      # the tail is relied on down to 1 / (100 x impostor pairs)
NORMAL = NormalDist()
GENUINE_POINTS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
MAX_USABLE_FNIR = 0.5      # a level that misses more enrolled people than this is reported as not met


# -- the model ----------------------------------------------------------------------------------------
def fmr_for_fpir(fpir: float, n: int) -> float:
    """Per-comparison false-match rate that gives `fpir` over n independent comparisons."""
    return -math.expm1(math.log1p(-fpir) / max(n, 1))


def fpir_for_fmr(fmr: float, n: int) -> float:
    """Share of strangers accepted by at least one of n comparisons."""
    return -math.expm1(max(n, 1) * math.log1p(-min(fmr, 1 - 1e-16)))


def fmr_at(scores: StrangerScores, threshold: float) -> float:
    """Share of impostor pairs with distance <= threshold."""
    tail = scores.tail
    if threshold < tail.distance:
        return NORMAL.cdf(NORMAL.inv_cdf(tail.fmr) + (threshold - tail.distance) / tail.scale)
    rates = np.array([r for r, _ in scores.fmr][::-1])          # ascending
    distances = np.array([d for _, d in scores.fmr][::-1])
    return float(np.exp(np.interp(threshold, distances, np.log(rates))))


def distance_at_fmr(scores: StrangerScores, fmr: float) -> float:
    """The threshold whose false-match rate is `fmr` (the inverse of fmr_at)."""
    tail = scores.tail
    if fmr < tail.fmr:
        return tail.distance + tail.scale * (NORMAL.inv_cdf(fmr) - NORMAL.inv_cdf(tail.fmr))
    rates = np.array([r for r, _ in scores.fmr][::-1])
    distances = np.array([d for _, d in scores.fmr][::-1])
    return float(np.interp(math.log(fmr), np.log(rates), distances))


def fnir_at(scores: StrangerScores, threshold: float) -> float:
    """Expected share of genuine comparisons farther apart than `threshold` (clamped to the measured points)."""
    shares = np.array([q for q, _ in scores.genuine])
    distances = np.array([d for _, d in scores.genuine])
    return float(1.0 - np.interp(threshold, distances, shares))


# -- the threshold in force ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenSetPoint:
    """The threshold in force at one gallery size, and what the model expects of it."""

    level: str                        # the security level, "fpir override" or "threshold override"
    gallery_size: int                 # templates compared per walk-up (N; with none enrolled, computed as 1)
    threshold: float
    fpir_target: Optional[float]      # None with a fixed threshold override
    expected_fpir: Optional[float]    # None when the model has no stranger scores
    expected_fnir: Optional[float]
    warning: Optional[str] = None

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        target = f"FPIR {self.fpir_target:g}" if self.fpir_target is not None else "fixed"
        text = f"security level {self.level} ({target}), N={self.gallery_size} templates: threshold {self.threshold:.4f}"
        if self.expected_fpir is not None and self.expected_fnir is not None:
            text += (f", expected FPIR {self.expected_fpir:.2g} (strangers accepted per walk-up), "
                     f"FNIR {100 * self.expected_fnir:.1f}% (enrolled people missed)")
        return text + (f"; WARNING: {self.warning}" if self.warning else "")


def open_set_point(scores: StrangerScores, fpir: float, n: int, level: str) -> OpenSetPoint:
    """The threshold that gives `fpir` at n templates, with a warning when the model cannot deliver it."""
    needed = fmr_for_fpir(fpir, n)
    threshold = distance_at_fmr(scores, needed)
    fnir = fnir_at(scores, threshold)
    problems = []
    if needed < scores.trusted_fmr:
        problems.append(f"it needs a per-comparison false-match rate of {needed:.2g}, beyond the fitted range of the "
                        f"model's stranger scores (relied on down to {scores.trusted_fmr:.2g})")
    if fnir > MAX_USABLE_FNIR:
        problems.append(f"about {100 * fnir:.0f}% of enrolled people would be missed (more than "
                        f"{100 * MAX_USABLE_FNIR:.0f}%)")
    warning = None
    if problems:
        warning = (f"security level {level} (FPIR {fpir:g}) cannot be met with {n} templates enrolled: "
                   + "; ".join(problems) + "; choose a lower level or a stronger model")
    return OpenSetPoint(level, n, threshold, fpir, fpir_for_fmr(fmr_at(scores, threshold), n), fnir, warning)


def fixed_threshold_point(scores: Optional[StrangerScores], threshold: float, n: int) -> OpenSetPoint:
    """What a fixed `recognition.threshold` gives at n templates (expectations only with stranger scores)."""
    if scores is None:
        return OpenSetPoint("threshold override", n, threshold, None, None, None)
    return OpenSetPoint("threshold override", n, threshold, None, fpir_for_fmr(fmr_at(scores, threshold), n),
                        fnir_at(scores, threshold))


# -- fitting ------------------------------------------------------------------------------------------
def fit_tail(impostor_sorted: np.ndarray, start_fmr: float) -> ScoreTail:
    """The normal tail from `start_fmr` down: probit(FMR) against distance, least squares over the quantiles
    from FIT_FROM down to FIT_PAIRS pairs, anchored at the measured distance of `start_fmr`."""
    d = impostor_sorted
    fit_to = FIT_PAIRS / len(d)
    if fit_to > start_fmr / 2:
        raise ValueError(f"{len(d)} impostor pairs cannot show a false-match rate of {start_fmr:g} with "
                         f"{FIT_PAIRS} pairs to spare; at least {int(np.ceil(2 * FIT_PAIRS / start_fmr))} are needed "
                         "(use more identities)")
    rates = np.geomspace(FIT_FROM, fit_to, FIT_POINTS)
    z = np.array([NORMAL.inv_cdf(r) for r in rates])
    scale, _ = np.polyfit(z, np.quantile(d, rates), 1)
    if scale <= 0:
        raise ValueError("impostor distances do not fall towards the tail; cannot fit it")
    return ScoreTail(distance=round(float(np.quantile(d, start_fmr)), 6), fmr=start_fmr, scale=round(float(scale), 6),
                     fit_from=FIT_FROM, fit_to=float(f"{fit_to:.3g}"))


def fit_stranger_scores(impostor: np.ndarray, genuine: np.ndarray, measured_on: str,
                        genuine_measured_on: str) -> StrangerScores:
    """Summarise impostor and genuine distances into the spec's `stranger_scores`."""
    d = np.sort(np.asarray(impostor, np.float64))
    tail = fit_tail(d, FMR_POINTS[-1])
    g = np.asarray(genuine, np.float64)
    if len(g) < 2:
        raise ValueError(f"{len(g)} genuine pairs; at least 2 are needed for the expected FNIR")
    return StrangerScores(
        measured_on=measured_on, impostor_pairs=len(d),
        fmr=[(rate, round(float(np.quantile(d, rate)), 6)) for rate in FMR_POINTS], tail=tail,
        trusted_fmr=float(f"{1.0 / (EXTRAPOLATION * len(d)):.3g}"), genuine_measured_on=genuine_measured_on,
        genuine_pairs=len(g), genuine=[(q, round(float(np.quantile(g, q)), 6)) for q in GENUINE_POINTS])
