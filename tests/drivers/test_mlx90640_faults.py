"""Bus faults injected into the mock: retries, degraded health, recovery, stuck new-data bit, corrupt EEPROM."""
from __future__ import annotations

import errno

import numpy as np
import pytest
from mlx90640_support import FakeTime, face_scene

from drivers.health import HealthState
from drivers.mlx90640.eeprom import EepromError
from drivers.mlx90640.i2c import BusError, SubpageTimeout
from drivers.mlx90640.mock import MockMlx90640Bus
from drivers.mlx90640.sensor import Mlx90640
from drivers.thermal.base import ThermalError
from drivers.thermal.mlx90640_i2c import Mlx90640I2CSensor


def make(**kwargs) -> tuple[Mlx90640, MockMlx90640Bus, FakeTime]:
    ft = FakeTime()
    bus = MockMlx90640Bus(face_scene, clock=ft.clock, sleep=ft.sleep)
    sensor = Mlx90640(bus, refresh_hz=16, clock=ft.clock, sleep=ft.sleep, **kwargs)
    sensor.open()
    sensor.read_frame()
    return sensor, bus, ft


def close_to_scene(frame) -> bool:
    return bool(np.abs(frame.temperatures - face_scene(0)[0]).max() < 0.25)


@pytest.mark.parametrize("code", [errno.EIO, errno.ENXIO, errno.EREMOTEIO, errno.ETIMEDOUT])
def test_short_error_burst_is_retried_silently(code: int) -> None:
    sensor, bus, _ = make()
    bus.fail_next(3, code)
    assert close_to_scene(sensor.read_frame())
    counters = sensor.health.counters
    assert counters["bus_errors"] == 3 and counters["retries"] == 3
    assert sensor.health.state is HealthState.ok


def test_long_error_burst_degrades_then_recovers() -> None:
    sensor, bus, _ = make(errors_before_degraded=5)
    bus.fail_next(12)
    frame = sensor.read_frame(timeout=2.0)              # delivered despite the burst
    assert close_to_scene(frame)
    # The burst is over but the sensor only counts as healthy after a few clean subpages.
    assert sensor.health.counters["bus_errors"] == 12
    sensor.read_frame()
    sensor.read_frame()
    assert sensor.health.state is HealthState.ok
    assert sensor.health.detail == "recovered (bus)"
    assert sensor.health.counters["recoveries"] >= 1


def test_burst_reports_degraded_while_it_lasts() -> None:
    sensor, bus, _ = make(errors_before_degraded=5, retries=2)
    bus.fail_next(5)
    with pytest.raises(BusError, match="failed 3 times"):   # one transfer exhausts its retries mid-burst ...
        sensor.transport.read_register(0x8000)
    sensor.transport.read_register(0x8000)              # ... the burst continues through a second one
    assert sensor.health.state is HealthState.degraded
    assert "I2C errors in a row" in sensor.health.detail
    assert sensor.read_frame() is not None
    sensor.read_frame()
    assert sensor.health.state is HealthState.ok


def test_bus_gone_fails_with_clear_error_then_recovers() -> None:
    sensor, bus, _ = make()
    bus.offline = True
    with pytest.raises(SubpageTimeout, match=r"no subpage from MLX90640 at 0x33 within 0.5 s \(last error: .*NACK"):
        sensor.read_frame(timeout=0.5)
    assert sensor.health.state is HealthState.failed
    assert "no subpage" in sensor.health.detail
    bus.offline = False
    frame = sensor.read_frame(timeout=1.0)
    assert close_to_scene(frame)
    sensor.read_frame()
    assert sensor.health.state is HealthState.ok


def test_stuck_new_data_bit_is_detected_and_frames_keep_their_pace() -> None:
    sensor, bus, ft = make()
    bus.stuck_new_data = True
    measured_before = bus.stats["measured"]
    start = ft.now
    frames = [sensor.read_frame() for _ in range(10)]
    assert all(close_to_scene(f) for f in frames)
    # No frame built from a re-read of the same RAM: 10 frames need about 20 measurements, at 16 Hz.
    assert ft.now - start == pytest.approx(20 / 16, abs=3 / 16)
    assert bus.stats["measured"] - measured_before <= 23
    assert all(f.subpages[0].subpage != f.subpages[1].subpage for f in frames)
    assert sensor.health.state is HealthState.degraded and "new-data bit does not clear" in sensor.health.detail
    assert sensor.health.counters["stuck_new_data"] == 1
    bus.stuck_new_data = False
    sensor.read_frame()
    sensor.read_frame()
    assert sensor.health.state is HealthState.ok and not sensor.transport.stuck_new_data


@pytest.mark.parametrize(("kind", "message"), [
    ("zeros", "all 832 words read 0x0000"),
    ("ones", "all 832 words read 0xFFFF"),
    ("gain", r"gainEE \(0x2430\) = 0 is out of range"),
    ("adjacent", "bad pixels 100 and 101 are adjacent"),
])
def test_corrupt_eeprom_is_refused_at_open_and_a_good_one_accepted_later(kind: str, message: str) -> None:
    bus = MockMlx90640Bus(face_scene)
    bus.corrupt_eeprom(kind)
    sensor = Mlx90640I2CSensor(bus=bus, refresh_hz=64)
    with pytest.raises(ThermalError, match=message) as info:
        sensor.open()
    assert isinstance(info.value.__cause__, EepromError)
    assert sensor.health.state is HealthState.failed and message.split()[0] in sensor.health.detail
    bus.corrupt_eeprom("restore")
    sensor.open()
    sensor.read(timeout=1.0)
    assert sensor.health.state is HealthState.ok
    sensor.close()


def test_eeprom_read_errors_at_open_are_retried() -> None:
    ft = FakeTime()
    bus = MockMlx90640Bus(face_scene, clock=ft.clock, sleep=ft.sleep)
    bus.fail_next(3, errno.EIO)
    sensor = Mlx90640(bus, clock=ft.clock, sleep=ft.sleep)
    sensor.open()
    assert sensor.health.counters["retries"] == 3
    assert close_to_scene(sensor.read_frame())


def test_invalid_ram_is_dropped_not_averaged() -> None:
    sensor, bus, _ = make()
    real_measure = bus._measure

    def marked(subpage: int, t: float) -> None:       # one measurement carries the device's invalid-data marker
        real_measure(subpage, t)
        bus._mem[0x0720] = 0x7FFF
        bus._measure = real_measure

    bus._measure = marked
    frame = sensor.read_frame()
    assert close_to_scene(frame)
    assert sensor.health.counters["invalid_frames"] == 1


def test_adapter_read_timeout_raises_thermal_error_and_recovers() -> None:
    bus = MockMlx90640Bus(face_scene)
    sensor = Mlx90640I2CSensor(bus=bus, refresh_hz=64)
    with sensor:
        sensor.read(timeout=1.0)
        bus.offline = True
        with pytest.raises(ThermalError, match="NACK"):
            sensor.read(timeout=0.2)
        assert sensor.health.state is HealthState.failed
        bus.offline = False
        sensor.read(timeout=1.0)
        sensor.read(timeout=1.0)
        assert sensor.health.state is HealthState.ok


def test_unopened_bus_number_gives_a_clear_error() -> None:
    sensor = Mlx90640I2CSensor(bus=250)
    with pytest.raises(ThermalError, match="cannot open /dev/i2c-250"):
        sensor.open()


def test_stuck_new_data_bit_never_returns_the_same_subpage_twice() -> None:
    ft = FakeTime()
    bus = MockMlx90640Bus(lambda t: (np.full((24, 32), 20.0 + t), 30.0), clock=ft.clock, sleep=ft.sleep)
    sensor = Mlx90640(bus, refresh_hz=16, clock=ft.clock, sleep=ft.sleep)
    sensor.open()
    first = sensor.read_subpage()
    bus.stuck_new_data = True                       # from now on the flag reads 1 and cannot be cleared
    halves = [first] + [sensor.read_subpage() for _ in range(7)]
    assert sensor.transport.stuck_new_data
    assert [h.subpage for h in halves[1:]] == [1 - h.subpage for h in halves[:-1]]
    scene_times = np.array([np.median(h.to) - 20.0 for h in halves])
    assert np.diff(scene_times) == pytest.approx(np.full(7, 1 / 16), abs=0.02)
