"""The AIZOO face-mask SSD as the mask score: its anchors, the choice of scorer, real masked and bare faces."""
from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.config.face import FaceConfig, MaskModel
from kiosk.face.crops import find_face
from kiosk.face.errors import ModelError
from kiosk.face.images import read_image
from kiosk.face.mask_scorer import create_mask_scorer
from kiosk.face.mask_ssd import MODEL_ID, RUN_SIZE, SsdMaskScorer, anchors, feature_map_sizes
from kiosk.face.spec import load_spec
from kiosk.face.synthetic_mask import MASK_STYLES, draw_mask
from kiosk.models.registry import default_model


@pytest.fixture(scope="module")
def ssd_models(models_dir: Path) -> Path:
    if not (models_dir / f"{MODEL_ID}.json").is_file():
        pytest.skip("the AIZOO mask SSD is not installed (make test installs it from ../shared/models/mask)")
    return models_dir


def test_anchor_grid_matches_the_ssd_outputs_at_its_native_and_run_sizes(ssd_models: Path):
    assert feature_map_sizes(260) == [33, 17, 9, 5, 3] and len(anchors(260)) == 5972     # MANIFEST: loc [1,5972,4]
    assert len(anchors(RUN_SIZE)) == 4 * sum(s * s for s in feature_map_sizes(RUN_SIZE))
    scorer = SsdMaskScorer(load_spec(ssd_models, MODEL_ID), ssd_models)
    assert sorted(scorer.model.output_shapes) == [[1, len(anchors(RUN_SIZE)), 2], [1, len(anchors(RUN_SIZE)), 4]]
    first = anchors(260)[0]                  # first cell of the 33x33 map, size 0.04 at ratio 1
    assert np.allclose(first, [0.5 / 33, 0.5 / 33, 0.04, 0.04])


def _masked_and_bare(shared_dir: Path) -> list[tuple[Path, bool]]:
    labels = shared_dir / "data" / "masked" / "mfr2_dev" / "labels.tsv"
    with open(labels, newline="") as f:
        return [(labels.parent / row["image"], row["masked"] == "1") for row in csv.DictReader(f, delimiter="\t")]


def test_real_masked_faces_score_high_and_bare_faces_low(pipeline, ssd_models: Path, shared_dir: Path):
    """MFR2 dev (real masks, 43 faces): never seen by the SSD's training (WIDER Face + MAFA)."""
    scorer = SsdMaskScorer(load_spec(ssd_models, MODEL_ID), ssd_models)
    scores, truth = [], []
    for path, masked in _masked_and_bare(shared_dir):
        hit = find_face(pipeline, read_image(path))
        assert hit.detection is not None, path
        scores.append(scorer.score(hit.image, hit.detection))
        truth.append(masked)
    predicted, masked = np.array(scores) >= 0.5, np.array(truth)
    assert masked.sum() >= 20 and (~masked).sum() >= 15
    assert (predicted == masked).mean() >= 0.95                       # measured 43 of 43
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_synthetic_masks_of_every_style_score_high(pipeline, ssd_models: Path, shared_dir: Path):
    """The masks the simulator and the training script draw are masks to the SSD too."""
    scorer = SsdMaskScorer(load_spec(ssd_models, MODEL_ID), ssd_models)
    photo = read_image(sorted((shared_dir / "data" / "faces" / "lfw_dev" / "images").glob("*/*.jpg"))[0])
    face = pipeline.detect(photo)[0]
    assert scorer.score(photo, face) < 0.1                              # measured 0.005
    for style in MASK_STYLES:
        masked = draw_mask(photo, face.keypoints, style)
        assert scorer.score(masked, pipeline.detect(masked)[0]) > 0.9, style.name   # measured 0.978 to 0.999


def test_auto_takes_the_ssd_where_installed_else_the_learned_classifier(ssd_models: Path, tmp_path: Path, caplog):
    assert create_mask_scorer(FaceConfig(), ssd_models).name == MODEL_ID
    with caplog.at_level(logging.INFO, logger="kiosk.face"):
        fallback = create_mask_scorer(FaceConfig(), tmp_path)
    assert fallback.name == "learned" and fallback.model_id.startswith("mask_logreg@")
    assert f"mask model auto: {MODEL_ID} not installed" in caplog.text and "using the learned classifier" in caplog.text
    assert create_mask_scorer(FaceConfig(mask_model=MaskModel.learned), ssd_models).name == "learned"


def test_a_missing_or_corrupt_ssd_is_a_model_error_naming_the_file(ssd_models: Path, tmp_path: Path):
    with pytest.raises(ModelError, match=rf"{MODEL_ID}\.json: missing"):
        create_mask_scorer(FaceConfig(mask_model=MaskModel.aizoo_mask), tmp_path)
    spec = default_model(MODEL_ID).spec
    shutil.copy(ssd_models / f"{MODEL_ID}.json", tmp_path)
    damaged = bytearray(spec.model_path(ssd_models).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    spec.model_path(tmp_path).write_bytes(bytes(damaged))
    with pytest.raises(ModelError, match="face_mask_detection.tflite: corrupt or replaced"):
        create_mask_scorer(FaceConfig(), tmp_path)          # auto does not fall back past a damaged install
