"""Face pipeline fixtures: one pipeline per session (loading models takes a while)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.config.face import FaceConfig
from kiosk.face.images import read_image
from kiosk.face.pipeline import FacePipeline
from kiosk.face.spec import save_spec
from kiosk.models.registry import DEFAULT_MODELS


@pytest.fixture(scope="session")
def pipeline(models_dir: Path) -> FacePipeline:
    return FacePipeline(FaceConfig(), models_dir)


@pytest.fixture(scope="session")
def testdata(shared_dir: Path) -> Path:
    return shared_dir / "models" / "testdata"


@pytest.fixture(scope="session")
def astronaut(testdata: Path):
    return read_image(testdata / "astronaut.png")


@pytest.fixture(scope="session")
def mobilefacenet_models(models_dir: Path, shared_dir: Path, tmp_path_factory) -> Path:
    """A models directory with MobileFaceNet: the installed one (`make test` puts it there), else
    the installed models plus MobileFaceNet installed from ../shared/models/embedding."""
    if (models_dir / "mobilefacenet.json").is_file():
        return models_dir
    from kiosk.models import installer

    target = tmp_path_factory.mktemp("models_mobilefacenet")
    for path in models_dir.iterdir():
        if path.suffix == ".tflite":
            (target / path.name).symlink_to(path.resolve())     # large and only read
        elif path.is_file():
            shutil.copy(path, target)
    shutil.copytree(models_dir / "licences", target / "licences")
    installer.install(target, tmp_path_factory.mktemp("cache"),
                      [shared_dir / "models" / "embedding", shared_dir / "models" / "mask"])
    return target


@pytest.fixture(scope="session")
def pinned_models(tmp_path_factory, models_dir: Path) -> Path:
    """The installed models with the registry's specs (with their pinned stranger scores), as
    `kiosk models install` writes it; the installed directory may hold an older spec."""
    target = tmp_path_factory.mktemp("pinned-models")
    for path in models_dir.iterdir():
        (target / path.name).symlink_to(path)
    for model in DEFAULT_MODELS:
        if (target / f"{model.spec.id}.json").exists():
            (target / f"{model.spec.id}.json").unlink()
            save_spec(target, model.spec)
    return target


@pytest.fixture(scope="session")
def dlib(pinned_models: Path) -> FacePipeline:
    """The default embedder with stranger scores: the open-set security levels work."""
    return FacePipeline(FaceConfig(embedder="dlib_resnet_v1"), pinned_models)
