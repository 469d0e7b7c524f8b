"""Face pipeline fixtures: one pipeline per session (loading models takes a while)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config.face import FaceConfig
from kiosk.face.images import read_image
from kiosk.face.pipeline import FacePipeline


@pytest.fixture(scope="session")
def pipeline(models_dir: Path) -> FacePipeline:
    return FacePipeline(FaceConfig(), models_dir)


@pytest.fixture(scope="session")
def testdata(shared_dir: Path) -> Path:
    return shared_dir / "models" / "testdata"


@pytest.fixture(scope="session")
def astronaut(testdata: Path):
    return read_image(testdata / "astronaut.png")
