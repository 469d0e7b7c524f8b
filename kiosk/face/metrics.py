"""Distances between embeddings and the per-security-level thresholds of a model.

Lower distance = more alike, for every metric: Euclidean is the L2 distance of the raw vectors,
cosine is 1 - cosine similarity.
"""
from __future__ import annotations

import numpy as np

from ..config.recognition import SecurityLevel
from .spec import Metric

FAR_TARGETS = {SecurityLevel.low: 1e-2, SecurityLevel.normal: 1e-3, SecurityLevel.high: 1e-4}


def distance(a: np.ndarray, b: np.ndarray, metric: Metric = Metric.euclidean) -> float:
    """Distance between two embeddings of the same model."""
    return float(distances(np.asarray(b)[None], a, metric)[0])


def distances(gallery: np.ndarray, query: np.ndarray, metric: Metric = Metric.euclidean) -> np.ndarray:
    """Distance of `query` (d,) to every row of `gallery` (n, d); for 1:N matching."""
    gallery = np.asarray(gallery, np.float32)
    query = np.asarray(query, np.float32)
    if metric == Metric.euclidean:
        return np.linalg.norm(gallery - query, axis=1)
    if metric == Metric.cosine:
        norms = np.linalg.norm(gallery, axis=1) * np.linalg.norm(query)
        return 1.0 - (gallery @ query) / np.maximum(norms, 1e-12)
    raise ValueError(f"unknown metric {metric!r}")
