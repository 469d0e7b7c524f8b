"""GY-MCU90640 UART module: the shared serial samples through real pseudo-terminals and pyserial."""
from __future__ import annotations

import json
import os
import select
import threading
import time
import tty
from collections.abc import Iterator

import numpy as np
import pytest
from mlx90640_support import VECTORS

from drivers.health import HealthState
from drivers.mlx90640.uart import GyMcu90640, UartError
from drivers.mlx90640.uart_protocol import (
    FrameSync,
    UartFrameError,
    baud_command,
    decode_frame,
    emissivity_command,
    encode_frame,
    rate_command,
)
from drivers.thermal.base import ThermalError
from drivers.thermal.mlx90640_uart import Mlx90640UartSensor

SERIAL = VECTORS / "serial"


@pytest.fixture(scope="module")
def samples() -> dict:
    if not (SERIAL / "expected.json").is_file():
        pytest.skip(f"serial samples not found at {SERIAL}")
    expected = json.loads((SERIAL / "expected.json").read_text())
    return {"expected": expected,
            "frames": [(SERIAL / f["file"]).read_bytes() for f in expected["frames"]],
            "stream": (SERIAL / expected["stream"]["file"]).read_bytes()}


class ModuleEnd:
    """The module's side of a pseudo-terminal: what it sends, and what the host wrote to it."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def received(self, n: int, timeout: float = 2.0) -> bytes:
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < n and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                data += os.read(self.master, n - len(data))
        return data

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture()
def module_end() -> Iterator[ModuleEnd]:
    end = ModuleEnd()
    yield end
    end.close()


def expected_temps(samples: dict, i: int) -> np.ndarray:
    return np.array(samples["expected"]["frames"][i]["temperatures_c"]).reshape(24, 32)


def test_sample_frames_decode_exactly(samples: dict) -> None:
    for i, data in enumerate(samples["frames"]):
        frame = decode_frame(data)
        meta = samples["expected"]["frames"][i]
        assert np.array_equal(frame.temperatures, expected_temps(samples, i))
        assert frame.ta == meta["ta_c"] and frame.checksum == meta["checksum"]
        assert encode_frame(frame.temperatures, frame.ta) == data


def test_stream_decoder_rejects_garbage_bad_checksum_and_truncated_tail(samples: dict) -> None:
    whole = FrameSync().feed(samples["stream"])
    sync = FrameSync()
    trickled = [f for i in range(0, len(samples["stream"]), 7) for f in sync.feed(samples["stream"][i:i + 7])]
    for frames in (whole, trickled):
        assert [f.checksum for f in frames] == [f["checksum"] for f in samples["expected"]["frames"]]
        assert np.array_equal(frames[1].temperatures, expected_temps(samples, 1))
    assert sync.counters["bad_checksum"] == 1 and sync.buffered == 700
    assert [f.checksum for f in sync.feed(samples["frames"][0])] == [samples["expected"]["frames"][0]["checksum"]]


def test_decode_errors_name_the_problem(samples: dict) -> None:
    good = samples["frames"][0]
    with pytest.raises(UartFrameError, match="frame is 1543 bytes"):
        decode_frame(good[:-1])
    with pytest.raises(UartFrameError, match="frame starts 5a 5a 02 07"):
        decode_frame(good[:3] + b"\x07" + good[4:])
    with pytest.raises(UartFrameError, match="checksum 0x.* does not match"):
        decode_frame(good[:100] + bytes([good[100] ^ 1]) + good[101:])


def test_command_bytes_match_the_module_table(samples: dict) -> None:
    table = {k: bytes.fromhex(v) for k, v in samples["expected"]["commands"].items() if k != "command_checksum_rule"}
    assert baud_command(9600) == table["set_baud_9600"] and baud_command(460800) == table["set_baud_460800"]
    for hz in ("0.5", "1", "2", "4", "8"):
        assert rate_command(float(hz)) == table[f"set_rate_{hz}Hz"]
    assert emissivity_command(0.95) == table["set_emissivity_0.95"]
    with pytest.raises(ValueError, match="update rate 16 Hz"):
        rate_command(16)


def test_frames_and_stream_through_a_pseudo_terminal(samples: dict, module_end: ModuleEnd) -> None:
    module = GyMcu90640(module_end.port, 115200, stale_after_s=30.0)
    module.open()
    try:
        assert module_end.received(4) == bytes.fromhex("A5 35 02 DC")          # automatic output
        stream, layout = samples["stream"], samples["expected"]["stream"]["layout"]
        module_end.send(stream[:layout[2]["offset"]])                        # garbage + frame1
        first = module.read_frame(timeout=1.0)
        assert np.array_equal(first.temperatures, expected_temps(samples, 0)) and first.ta == 33.99
        module_end.send(stream[layout[2]["offset"]:layout[4]["offset"]])   # corrupt-checksum frame + frame2
        second = module.read_frame(timeout=1.0)
        assert np.array_equal(second.temperatures, expected_temps(samples, 1)) and second.ta == 29.37
        module_end.send(stream[layout[4]["offset"]:])                       # truncated tail: nothing to emit
        with pytest.raises(UartError, match=r"no valid frame .*\(1 bad checksums"):
            module.read_frame(timeout=0.3)
        module_end.send(samples["frames"][0])                                # the stream recovers
        assert module.read_frame(timeout=1.0).checksum == first.checksum
        assert module.sync.counters["bad_checksum"] == 2                    # the truncated frame, once resynced
    finally:
        module.close()


def test_commands_and_emissivity_query_through_a_pseudo_terminal(module_end: ModuleEnd, samples: dict) -> None:
    module = GyMcu90640(module_end.port, 115200, emissivity=0.95)
    module.open()
    try:
        assert module_end.received(8) == bytes.fromhex("A5 45 5F 49 A5 35 02 DC")
        module.set_rate(8.0)
        assert module_end.received(8) == bytes.fromhex("A5 25 04 CE A5 65 01 0B")
        module.set_baud(460800, save=False)
        assert module_end.received(4) == bytes.fromhex("A5 15 03 BD")

        def reply() -> None:
            assert module_end.received(4) == bytes.fromhex("A5 55 01 FB")
            frame = samples["frames"][1]
            module_end.send(frame[:600] + frame[600:] + bytes.fromhex("5A 5A 5F 13"))

        thread = threading.Thread(target=reply)
        thread.start()
        assert module.query_emissivity(timeout=2.0) == 0.95
        thread.join()
        assert module.read_frame(timeout=0.5).ta == 29.37                   # the frame that came with the reply
    finally:
        module.close()


def test_backlog_of_unknown_age_is_dropped(module_end: ModuleEnd, samples: dict) -> None:
    module = GyMcu90640(module_end.port, 115200, stale_after_s=0.1)
    module.open()
    try:
        module_end.send(samples["frames"][0])
        assert module.read_frame(timeout=1.0).ta == 33.99
        module_end.send(samples["frames"][0])           # sits in the port while nobody reads ...
        time.sleep(0.3)
        timer = threading.Timer(0.1, module_end.send, args=(samples["frames"][1],))
        timer.start()
        assert module.read_frame(timeout=1.0).ta == 29.37  # ... so the caller gets the one that came after it asked
        timer.join()
    finally:
        module.close()


def test_thermal_sensor_adapter(module_end: ModuleEnd, samples: dict) -> None:
    sensor = Mlx90640UartSensor(port=module_end.port, baud=115200, emissivity=0.98)
    with sensor:
        assert module_end.received(8) == bytes.fromhex("A5 45 62 4C A5 35 02 DC")
        module_end.send(samples["frames"][0])
        frame = sensor.read(timeout=1.0)
        assert frame.temperatures.dtype == np.float32 and frame.temperatures.shape == (24, 32)
        assert np.allclose(frame.temperatures, expected_temps(samples, 0), atol=1e-4)
        assert frame.ambient_c == 33.99 and frame.seq == 1 and frame.flagged is None
        assert sensor.health.state is HealthState.ok
        bad = samples["stream"][1549:3093]
        module_end.send(bad + samples["frames"][1])
        assert sensor.read(timeout=1.0).seq == 2
        assert sensor.health.state is HealthState.degraded and "bad checksum" in sensor.health.detail
        module_end.send(samples["frames"][0])
        sensor.read(timeout=1.0)
        assert sensor.health.state is HealthState.ok
        with pytest.raises(ThermalError, match="no valid frame"):
            sensor.read(timeout=0.2)
        assert sensor.health.state is HealthState.failed
        module_end.send(samples["frames"][1])
        assert sensor.read(timeout=1.0).ambient_c == 29.37              # flowing again
        assert sensor.health.state is HealthState.ok


def test_adapter_reopens_the_port_after_a_port_failure(module_end: ModuleEnd, samples: dict) -> None:
    sensor = Mlx90640UartSensor(port=module_end.port, baud=115200, emissivity=None)
    with sensor:
        os.close(sensor.module._serial.fd)                              # the port's descriptor dies under it
        with pytest.raises(ThermalError, match="read from the module failed"):
            sensor.read(timeout=0.2)
        assert sensor.health.state is HealthState.failed and not sensor.module.is_open
        threading.Timer(0.2, module_end.send, args=(samples["frames"][0],)).start()
        assert sensor.read(timeout=2.0).ambient_c == 33.99
        assert sensor.health.state is HealthState.ok


def test_missing_port_is_a_clear_error() -> None:
    sensor = Mlx90640UartSensor(port="/dev/does-not-exist-ttyUSB9")
    with pytest.raises(ThermalError, match="cannot open /dev/does-not-exist-ttyUSB9"):
        sensor.open()
    assert sensor.health.state is HealthState.failed
