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
    return _installed("KIOSK_MODELS_DIR", REPO / "var" / "models", "spec files", "*.json")


@pytest.fixture(scope="session")
def sim_dir() -> Path:
    """Demo photos installed by `make install` (kiosk sim assets)."""
    return _installed("KIOSK_SIM_DIR", REPO / "var" / "sim", "demo photos", "cast.json")


def _installed(variable: str, default: Path, what: str, pattern: str) -> Path:
    """A directory `make install` fills. Under `make test` (which sets the variable) it must be there;
    a plain pytest run without it skips the tests that need it."""
    path = Path(os.environ.get(variable, default))
    if not any(path.glob(pattern)):
        message = f"{what} not installed at {path}: run `make install`"
        if variable in os.environ:
            pytest.fail(message)
        pytest.skip(message)
    return path
