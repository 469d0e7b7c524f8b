"""Shared test fixtures: where ../shared and the installed models are."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    return Path(os.environ.get("KIOSK_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The evaluation data beside the checkout (../shared); tests that need it skip without it."""
    path = _shared_dir()
    if not path.is_dir():
        pytest.skip(f"evaluation data not found at {path} (set KIOSK_SHARED)")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Models installed by `make install` (kiosk models install)."""
    path = Path(os.environ.get("KIOSK_MODELS_DIR", REPO / "var" / "models"))
    if not path.is_dir():
        pytest.skip(f"models not installed at {path}: run `make install`")
    return path


@pytest.fixture(scope="session")
def sim_dir() -> Path:
    """Demo photos installed by `make install` (kiosk sim assets)."""
    path = Path(os.environ.get("KIOSK_SIM_DIR", REPO / "var" / "sim"))
    if not (path / "cast.json").is_file():
        pytest.skip(f"demo photos not installed at {path}: run `make install`")
    return path
