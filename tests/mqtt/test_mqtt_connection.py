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


def test_stop_while_a_silent_broker_never_answers_connect(tmp_path: Path) -> None:
    """TCP is accepted (by the kernel backlog) but no CONNACK ever comes: stop() is still quick and the
    half-open connection is closed, not left behind."""
    import asyncio
    import socket
    import time

    from mqtt_support import kiosk_config, make_keys

    from kiosk.mqtt import MqttService

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]

    async def main() -> float:
        make_keys(tmp_path)
        service = MqttService(kiosk_config(tmp_path, port))
        await service.start()
        await asyncio.sleep(0.3)                   # connected at TCP level, waiting for CONNACK
        assert not service.connected
        started = time.perf_counter()
        await service.stop()
        return time.perf_counter() - started
    try:
        assert asyncio.run(main()) < 0.5
        peer, _ = server.accept()                   # the kiosk's side is closed: we read EOF after its CONNECT
        peer.settimeout(2)
        data = b""
        while chunk := peer.recv(4096):
            data += chunk
        assert data[:1] == b"\x10"                  # it was an MQTT CONNECT
        peer.close()
    finally:
        server.close()


def test_buffered_socket_serves_small_reads_from_one_recv() -> None:
    import socket

    from kiosk.mqtt.connection import _BufferedSocket

    left, right = socket.socketpair()
    left.setblocking(False)
    wrapped = _BufferedSocket(left)
    with pytest.raises(BlockingIOError):
        wrapped.recv(1)                                   # nothing there: paho sees the usual EAGAIN
    right.sendall(b"\x40\x02\x00\x01" * 3)                # three PUBACKs
    assert wrapped.recv(1) == b"\x40" and wrapped.pending() == 11
    assert wrapped.recv(1) == b"\x02" and wrapped.recv(2) == b"\x00\x01"
    assert wrapped.recv(100) == b"\x40\x02\x00\x01" * 2 and wrapped.pending() == 0
    assert wrapped.fileno() == left.fileno()              # everything else is the socket's
    right.close()
    assert wrapped.recv(1) == b""                         # EOF passes through
    left.close()
