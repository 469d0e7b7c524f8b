"""Which mask score is in force: `face.mask_model` names one, or "auto" takes the best one installed.

Best first: the AIZOO face-mask SSD (kiosk.face.mask_ssd; trained on real masked faces, optional,
installed from its pinned GitHub source), then the learnt classifier (kiosk.face.mask; its weights
ship with the package, so it is always there). See the README, "Masked faces", for the figures.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config.face import FaceConfig, MaskModel
from .detectors.base import Detection
from .mask import LearnedMaskScorer
from .mask_ssd import MODEL_ID as SSD_ID
from .mask_ssd import SsdMaskScorer
from .spec import load_spec, spec_path

log = logging.getLogger("kiosk.face")


class MaskScorer(Protocol):
    """0 = bare .. 1 = masked, for one detected face (with the landmark stage's points)."""

    name: str
    model_id: str

    def score(self, image_bgr: np.ndarray, detection: Detection) -> float: ...


def create_mask_scorer(config: FaceConfig, models_dir: Path) -> MaskScorer:
    """The scorer for `face.mask_model`; an explicit model that is missing or corrupt raises ModelError.

    With "auto", the SSD counts as installed when its spec is there: a spec whose file is missing or
    corrupt then stops the pipeline with the fix, rather than silently changing the mask score."""
    choice = config.mask_model
    if choice == MaskModel.auto:
        if not spec_path(models_dir, SSD_ID).is_file():
            log.info("mask model auto: %s not installed (run `kiosk models install --from DIR`), "
                     "using the learned classifier", SSD_ID, extra={"fields": {"mask_model": "learned"}})
            return LearnedMaskScorer()
        choice = MaskModel.aizoo_mask
    if choice == MaskModel.learned:
        scorer: MaskScorer = LearnedMaskScorer()
    else:
        scorer = SsdMaskScorer(load_spec(models_dir, SSD_ID), models_dir, config.num_threads)
    log.info("mask model %s", scorer.model_id, extra={"fields": {"mask_model": scorer.model_id}})
    return scorer
