"""An ensemble embedder: several embedding models on the same face, one vector.

Each member aligns the face to its own template and embeds it; the vectors are unit-normalised,
scaled by the square root of the member's weight (weights sum to 1) and joined. The cosine
similarity of two joined vectors is then the weighted mean of the members' cosine similarities,
so the rest of the kiosk (matcher, templates, fusion, security levels) treats the ensemble as one
cosine model. Two models trained on different data err on different faces: on ../shared LFW dev
MobileFaceNet keeps strangers out at 700 enrolled where dlib cannot, and dlib's ResNet separates the
genuine pairs MobileFaceNet misses (README, "Face pipeline").
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivers.registry import Registry

from .detectors.base import KeypointLayout
from .embedder import ChipVariants, Embedder
from .errors import ModelError
from .spec import Metric, ModelSpec, load_spec, spec_path


class EnsembleEmbedder:
    """Members are loaded from their own specs in the same models directory. Not thread-safe."""

    def __init__(self, spec: ModelSpec, models_dir: Path, num_threads: int = 1, landmarks: str = "detector") -> None:
        if spec.task != "ensemble" or not spec.members or not spec.weights:
            raise ModelError(spec_path(models_dir, spec.id), f"spec {spec.id} is a {spec.task}, not an ensemble")
        self.spec = spec
        self.members = [Embedder(load_spec(models_dir, member), models_dir, num_threads, landmarks)
                        for member in spec.members]
        total = float(sum(spec.weights))
        self._scales = [float(np.sqrt(w / total)) for w in spec.weights]
        self.dim = sum(m.dim for m in self.members)
        self.metric = Metric.cosine
        # The vector space is the members' spaces together: a change of any member is a new model id.
        joined = "|".join(m.model_id for m in self.members)
        self.model_id = f"{spec.id}@{hashlib.sha256(joined.encode()).hexdigest()[:12]}"

    def chip(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout) -> np.ndarray:
        """The first member's chip: what the quality gates look at."""
        return self.members[0].chip(image_bgr, keypoints, layout)

    def embed_face(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout,
                   chip: np.ndarray | None = None) -> np.ndarray:
        """The joined vector; `chip` (from `chip()`) saves the first member's alignment."""
        return self._join([member.embed_face(image_bgr, keypoints, layout, chip if index == 0 else None)
                           for index, member in enumerate(self.members)])

    def embed_variants(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout,
                       variants: ChipVariants) -> list[np.ndarray]:
        """Each member embeds its own altered chips; the i-th vectors of all members are joined."""
        per_member = [member.embed_variants(image_bgr, keypoints, layout, variants) for member in self.members]
        return [self._join(list(vectors)) for vectors in zip(*per_member, strict=True)]

    def _join(self, vectors: list[np.ndarray]) -> np.ndarray:
        parts = [v * (scale / max(float(np.linalg.norm(v)), 1e-12)) for v, scale in zip(vectors, self._scales, strict=True)]
        return np.concatenate(parts).astype(np.float32)


EmbedderFactory = Callable[[ModelSpec, Path, int, str], "Embedder | EnsembleEmbedder"]
# Keyed by a spec's `task`: one model, or an ensemble of installed ones. A new kind of embedder is its
# class and one line here.
EMBEDDERS: Registry[EmbedderFactory] = Registry("embedder", "the model spec's task")
EMBEDDERS.add("embedder", Embedder)
EMBEDDERS.add("ensemble", EnsembleEmbedder)


def create_embedder(spec: ModelSpec, models_dir: Path, num_threads: int = 1,
                    landmarks: str = "detector") -> Embedder | EnsembleEmbedder:
    """The embedder a spec describes."""
    if spec.task not in EMBEDDERS:
        raise ModelError(spec_path(models_dir, spec.id), f"spec {spec.id} is a {spec.task}, not an embedder")
    return EMBEDDERS.get(spec.task)(spec, models_dir, num_threads, landmarks)
