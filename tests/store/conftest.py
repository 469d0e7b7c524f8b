"""Fixtures for the store tests: a real SQLite file and real keys in a temporary directory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_helpers import consent_record

from kiosk.config.store import StoreConfig
from kiosk.store import Store, init_keys


@pytest.fixture
def consent() -> dict[str, Any]:
    return consent_record()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    init_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def make_store(tmp_path: Path, keys_dir: Path):
    """Factory: open a store on tmp_path/kiosk.db (several devices: pass name and device)."""
    opened: list[Store] = []

    def make(name: str = "kiosk.db", device: str = "kiosk-1", keys: Path | None = None, **config: Any) -> Store:
        store = Store(tmp_path / name, keys or keys_dir, device_id=device, config=StoreConfig(**config))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store) -> Store:
    return make_store()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
