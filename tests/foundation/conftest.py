"""Fixtures of the end-to-end tests: a real mosquitto and an operator key for signed commands."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import MOSQUITTO, Mosquitto, kiosk, mosquitto_available


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not mosquitto_available():
        pytest.skip(f"mosquitto not found at {MOSQUITTO} (apt install mosquitto; .ci/run installs it)")
    server = Mosquitto(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def operator(tmp_path: Path) -> Path:
    """A directory with operator.key / operator.pub (`kiosk cmd keygen`)."""
    path = tmp_path / "operator"
    assert kiosk("cmd", "keygen", "--out", str(path)).returncode == 0
    return path
