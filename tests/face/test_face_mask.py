"""Mask classifier: its weights file, held-out separation, `kiosk eval mask` on real data, retraining."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.cli import main
from kiosk.face.errors import ModelError
from kiosk.face.mask import DEFAULT_WEIGHTS, LearnedMaskScorer, MaskClassifier, load_classifier
from kiosk.face.mask_eval import LabelsError, read_labels
from kiosk.face.mask_train import lfw_photos, synthetic_samples, train


def test_shipped_weights_load_and_bad_files_are_named(tmp_path: Path):
    classifier = load_classifier()
    assert classifier.model_id.startswith("mask_logreg@") and classifier.weights.shape == classifier.mean.shape
    with pytest.raises(ModelError, match="missing.*mask_train"):
        MaskClassifier.load(tmp_path / "absent.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match=r"corrupt\.npz: not a mask classifier"):
        MaskClassifier.load(tmp_path / "corrupt.npz")
    fields = dict(np.load(DEFAULT_WEIGHTS))
    np.savez(tmp_path / "old.npz", **{**fields, "features_id": np.str_("hog16-v0")})
    with pytest.raises(ModelError, match="made for features hog16-v0"):
        MaskClassifier.load(tmp_path / "old.npz")
    np.savez(tmp_path / "short.npz", **{**fields, "weights": fields["weights"][:10]})
    with pytest.raises(ModelError, match="wrong shapes"):
        MaskClassifier.load(tmp_path / "short.npz")


def test_saved_classifier_reads_back_the_same(tmp_path: Path):
    classifier = load_classifier()
    classifier.save(tmp_path / "copy.npz")
    copy = MaskClassifier.load(tmp_path / "copy.npz")
    assert copy.model_id == classifier.model_id and np.array_equal(copy.weights, classifier.weights)


@pytest.mark.slow
def test_score_separates_synthetic_masks_on_held_out_lfw(pipeline, shared_dir: Path):
    """lfw_dev is never used in training: bare and synthetically masked versions of 60 of its photos."""
    photos = lfw_photos(shared_dir / "data" / "faces" / "lfw_dev" / "images")[:60]
    x, masked = synthetic_samples(pipeline, photos, seed=1)
    scores = load_classifier().score(x)
    assert len(masked) >= 200 and masked.sum() >= 100       # 60 photos, 2 bare + 2 masked each, minus misses
    accuracy = float(((scores >= 0.5) == masked).mean())
    assert accuracy >= 0.95                          # measured 0.978 (230 samples)
    assert np.median(scores[masked]) > 0.9 and np.median(scores[~masked]) < 0.1


def test_painting_a_mask_on_a_bare_face_raises_the_score(pipeline, astronaut):
    score = LearnedMaskScorer().score
    face = pipeline.detect(astronaut)[0]
    bare = score(astronaut, face)
    masked = astronaut.copy()
    nose, mouth = face.keypoints[2], face.keypoints[3]
    eye_distance = float(np.hypot(*(face.keypoints[1] - face.keypoints[0])))
    top = int(nose[1] + 0.2 * (mouth[1] - nose[1]))
    x1, x2 = int(mouth[0] - 1.1 * eye_distance), int(mouth[0] + 1.1 * eye_distance)
    cv2.rectangle(masked, (x1, top), (x2, int(face.box[3] + 10)), (200, 150, 90), -1)   # light blue surgical mask
    assert bare < 0.5 < score(masked, face)


def test_labels_file_errors_name_file_and_line(tmp_path: Path):
    (tmp_path / "a.tsv").write_text("image\tmasked\nx.jpg\t1\ny.jpg\tyes\n")
    with pytest.raises(LabelsError, match=r"a\.tsv:3: masked must be 0 or 1"):
        read_labels(tmp_path / "a.tsv")
    (tmp_path / "b.tsv").write_text("path\tmasked\n")
    with pytest.raises(LabelsError, match="missing column"):
        read_labels(tmp_path / "b.tsv")


@pytest.mark.slow
def test_eval_mask_command_on_shared_dev_set(models_dir: Path, shared_dir: Path, tmp_path: Path, capsys):
    labels = shared_dir / "data" / "masked" / "mask_classification_dev" / "labels.tsv"
    assert main(["eval", "mask", str(labels), "--models", str(models_dir), "--out", str(tmp_path),
                 "--no-progress"]) == 0
    report = json.loads((tmp_path / "mask_classification_dev_labels_mask.json").read_text())
    assert report["images"] == 80 and report["detected"] >= 75          # measured 77 (the bar: 90% = 72)
    assert report["classifier"].startswith("aizoo_mask@")               # auto: the SSD, installed from ../shared
    assert report["accuracy"] >= 0.95          # measured 0.974 (75 of 77)
    assert report["masked"]["images"] == report["bare"]["images"] == 40
    assert sum(report["confusion"].values()) == report["detected"]
    assert report["threshold"] == 0.5
    assert "faces found" in capsys.readouterr().out
    assert main(["eval", "mask", str(labels), "--models", str(models_dir), "--out", str(tmp_path / "learned"),
                 "--no-progress", "--mask-model", "learned"]) == 0
    learned = json.loads((tmp_path / "learned" / "mask_classification_dev_labels_mask.json").read_text())
    assert learned["classifier"] == load_classifier().model_id
    assert 0.86 <= learned["accuracy"] < report["accuracy"]            # measured 0.883 (68 of 77)


@pytest.mark.slow
def test_retraining_is_deterministic(pipeline, shared_dir: Path, tmp_path: Path):
    a = train(pipeline, shared_dir, seed=0, limit=6)
    b = train(pipeline, shared_dir, seed=0, limit=6)
    assert a.model_id == b.model_id
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.mean, b.mean) and a.bias == b.bias
    c = train(pipeline, shared_dir, seed=1, limit=6)
    assert not np.array_equal(a.weights, c.weights)


def test_eval_form_is_chosen_by_the_first_word(capsys):
    with pytest.raises(SystemExit) as exit_mask:
        main(["eval", "mask"])
    assert exit_mask.value.code == 2 and "kiosk eval mask: error" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_pairs:
        main(["eval", "--no-progress"])
    assert exit_pairs.value.code == 2 and "required: pairs" in capsys.readouterr().err
