"""`make lint` as tests: ruff and mypy (configured in pyproject.toml and setup.cfg) find nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUFF_PATHS = ["kiosk", "drivers", "calibration", "tests", "bench"]
MYPY_PATHS = ["kiosk", "drivers", "calibration", "bench"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=280)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", *RUFF_PATHS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow   # about 30 s without mypy's cache (a fresh clone), 1 s with it
def test_mypy_finds_nothing() -> None:
    result = _run("mypy", *MYPY_PATHS)
    assert result.returncode == 0, result.stdout + result.stderr
