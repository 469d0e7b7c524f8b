"""Helpers shared by the MLX90640 tests: a fake clock, scenes, and the ../shared reference index."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
VECTORS = Path(os.environ.get("KIOSK_SHARED", REPO.parent / "shared")) / "mlx90640"


class FakeTime:
    """A clock that only moves when someone sleeps: the driver and the mock share it, so timing-dependent
    behaviour (refresh periods, polling, backoff) runs instantly and deterministically."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)


def face_scene(t: float) -> tuple[np.ndarray, float]:
    """22 C room, a 36.5 C face with 37 C eyes; die at 30 C."""
    temps = np.full((24, 32), 22.0)
    temps[6:18, 11:21] = 36.5
    temps[9, 13:15] = temps[9, 17:19] = 37.0
    return temps, 30.0


def reference_cases() -> list:
    """pytest params for every case of ../shared/mlx90640/index.json (one skipped param if absent)."""
    index = VECTORS / "index.json"
    if not index.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"reference vectors not found at {VECTORS}"))]
    return [pytest.param(entry, id=entry["id"]) for entry in json.loads(index.read_text())["cases"]]
