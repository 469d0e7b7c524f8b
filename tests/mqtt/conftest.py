"""Fixtures for the MQTT tests: a real mosquitto on a free loopback port (skips without the binary)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_support import MOSQUITTO, Mosquitto, mosquitto_available


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not mosquitto_available():
        pytest.skip(f"mosquitto not found at {MOSQUITTO} (apt install mosquitto; .ci/run installs it)")
    server = Mosquitto(tmp_path / "broker")
    server.start()
    try:
        yield server
    finally:
        server.stop()
