"""Helpers shared by the store tests (imported by name: tests/store is on sys.path under pytest)."""
from __future__ import annotations

from typing import Any

import numpy as np


def consent_record(**changes: Any) -> dict[str, Any]:
    record = {"given_by": "Ann Example", "given_at": "2026-01-05T09:30:00+01:00", "notice_version": "v1",
              "method": "signed paper form", "scope": ["local"]}
    record.update(changes)
    return record


def unit(rng: np.random.Generator, n: int = 1, dim: int = 128) -> np.ndarray:
    """Random unit vectors; two of them are about sqrt(2) apart."""
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
