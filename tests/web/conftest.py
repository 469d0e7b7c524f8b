"""Fixtures shared by the console tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.face.pipeline import FacePipeline


@pytest.fixture(scope="module")
def pipeline(models_dir: Path) -> FacePipeline:
    """The default face pipeline (enrollment by upload and by link needs one)."""
    from kiosk.config import parse_config

    return FacePipeline(parse_config({}).face, models_dir)
