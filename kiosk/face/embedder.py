"""The embedding model: an aligned chip in, one vector out, plus the model's metric and template."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .align import align
from .detectors.base import KeypointLayout
from .errors import ModelError
from .landmarks import template_for
from .runtime import TFLiteModel
from .spec import Metric, ModelSpec

ChipVariants = Callable[[np.ndarray, np.ndarray], list[np.ndarray]]


class Embedder:
    """One TFLite embedding model. Not thread-safe (one interpreter)."""

    def __init__(self, spec: ModelSpec, spec_dir: Path, num_threads: int = 1, landmarks: str = "detector") -> None:
        """`landmarks`: the name of the LandmarkStage whose points are aligned (picks the template)."""
        self.model = TFLiteModel(spec, spec_dir, num_threads)
        if spec.task != "embedder":
            raise ModelError(self.model.path, f"spec {spec.id} is a {spec.task}, not an embedder")
        if spec.template is None or spec.metric is None:
            raise ModelError(self.model.path, f"spec {spec.id} needs 'template' and 'metric'")
        shapes = self.model.output_shapes
        if len(shapes) != 1 or len(shapes[0]) != 2 or shapes[0][0] != 1:
            raise ModelError(self.model.path, f"wrong shape: outputs {shapes}, expected one [1, d] vector")
        self.spec = spec
        self.dim = int(shapes[0][1])
        self.metric: Metric = spec.metric
        self.template = template_for(spec, landmarks)
        self.size = spec.model_input_size()
        # Stable id of the vector space: the spec id plus the model file's hash.
        self.model_id = f"{spec.id}@{self.model.sha256[:12]}"

    def chip(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout) -> np.ndarray:
        chip, _ = align(image_bgr, keypoints, layout, self.template, self.size)
        return chip

    def embed_face(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout,
                   chip: np.ndarray | None = None) -> np.ndarray:
        """The face's vector; pass the `chip()` already made for the quality gates to align only once."""
        return self.embed(self.chip(image_bgr, keypoints, layout) if chip is None else chip)

    def embed_variants(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout,
                       variants: ChipVariants) -> list[np.ndarray]:
        """Vectors of altered copies of the face's chip (synthetic masks, the upper face): `variants(chip,
        template)` makes them from the chip and the template it was aligned to."""
        return [self.embed(chip) for chip in variants(self.chip(image_bgr, keypoints, layout), self.template)]

    def embed(self, chip_bgr: np.ndarray) -> np.ndarray:
        vector = self.model.run(self.model.prepare(chip_bgr))[0][0]
        return np.array(vector, dtype=np.float32)
