"""`face.embedder = "auto"`: the most accurate installed embedder, and one log line saying which and why."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiosk.config.face import FaceConfig
from kiosk.face.choice import choose_embedder
from kiosk.face.errors import ModelError
from kiosk.face.pipeline import FacePipeline


@pytest.fixture
def without_mobilefacenet(models_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    copy.mkdir()
    for path in models_dir.glob("*"):
        if path.is_file() and not path.name.startswith("mobilefacenet"):
            (copy / path.name).symlink_to(path.resolve())
    return copy


def _start_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kiosk.face" and "embedder" in r.getMessage()]


def test_auto_takes_the_ensemble_when_mobilefacenet_is_installed(mobilefacenet_models: Path, caplog):
    with caplog.at_level(logging.INFO, logger="kiosk.face"):
        pipeline = FacePipeline(FaceConfig(), mobilefacenet_models)
    assert pipeline.model_id.startswith("mobilefacenet_dlib@") and pipeline.metric.value == "cosine"
    assert pipeline.dim == 256
    assert _start_lines(caplog) == ["embedder auto: mobilefacenet_dlib (the most accurate model)"]


def test_auto_falls_back_to_dlib_and_says_why(without_mobilefacenet: Path, caplog):
    with caplog.at_level(logging.INFO, logger="kiosk.face"):
        pipeline = FacePipeline(FaceConfig(), without_mobilefacenet)
    assert pipeline.model_id.startswith("dlib_resnet_v1@")
    assert _start_lines(caplog) == ["embedder auto: mobilefacenet_dlib, mobilefacenet not installed "
                                    "(run `kiosk models install --from DIR`), using dlib_resnet_v1"]


def test_an_explicit_id_is_used_as_it_is(mobilefacenet_models: Path, without_mobilefacenet: Path, caplog):
    with caplog.at_level(logging.INFO, logger="kiosk.face"):
        pipeline = FacePipeline(FaceConfig(embedder="dlib_resnet_v1"), mobilefacenet_models)
    assert pipeline.model_id.startswith("dlib_resnet_v1@")
    assert _start_lines(caplog) == ["embedder dlib_resnet_v1 (configured)"]
    with pytest.raises(ModelError, match="mobilefacenet.json: missing"):
        FacePipeline(FaceConfig(embedder="mobilefacenet"), without_mobilefacenet)


def test_auto_with_no_embedder_installed_names_the_one_that_always_installs(tmp_path: Path):
    assert choose_embedder("auto", tmp_path).model_id == "dlib_resnet_v1"
