"""Reconnect delays: exponential, capped, jittered; the password file is read as the first line."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from kiosk.mqtt.connection import ConnectError, backoff_delay, read_password


def test_delays_double_up_to_the_cap_with_jitter() -> None:
    rng = random.Random(1)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]):
        delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4          # spread: a site's kiosks do not reconnect in step
    assert backoff_delay(10_000, 0.5, 30.0, rng) <= 30.0         # no overflow after a long outage


def test_password_file(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("s3cret\nignored\n")
    assert read_password(path) == "s3cret"
    assert read_password(None) is None
    with pytest.raises(ConnectError, match="mqtt.password_file"):
        read_password(tmp_path / "missing")
