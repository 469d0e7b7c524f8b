"""Scene -> simulated registers -> the real I2C driver code -> temperatures, and the bus protocol it uses."""
from __future__ import annotations

import math

import numpy as np
import pytest
from mlx90640_support import FakeTime, face_scene

from drivers.health import HealthState
from drivers.mlx90640.compute import subpage_pixels
from drivers.mlx90640.i2c import SubpageTimeout
from drivers.mlx90640.mock import MockMlx90640Bus, uniform_scene
from drivers.mlx90640.registers import CONTROL_REG, STATUS_OVERWRITE, STATUS_REG, control_word
from drivers.mlx90640.sensor import Mlx90640
from drivers.mlx90640.synthetic import synthetic_eeprom
from drivers.thermal.base import ThermalFrame
from drivers.thermal.mlx90640_i2c import Mlx90640I2CSensor


def make(scene=face_scene, ft: FakeTime | None = None, bus_kwargs: dict | None = None,
         **kwargs) -> tuple[Mlx90640, MockMlx90640Bus]:
    ft = ft or FakeTime()
    bus = MockMlx90640Bus(scene, clock=ft.clock, sleep=ft.sleep, **(bus_kwargs or {}))
    sensor = Mlx90640(bus, clock=ft.clock, sleep=ft.sleep, **kwargs)
    sensor.open()
    return sensor, bus


@pytest.mark.parametrize(("chess", "bits", "chunk", "limit"), [
    (True, 18, 832, 0.25), (False, 18, 832, 0.25), (True, 19, 64, 0.15), (False, 16, 100, 1.0), (True, 17, 16, 0.5),
])
def test_scene_round_trip(chess: bool, bits: int, chunk: int, limit: float) -> None:
    sensor, bus = make(refresh_hz=8, chess=chess, resolution_bits=bits, chunk_words=chunk)
    assert bus.control == control_word(8, bits, chess)
    frame = sensor.read_frame()
    truth, die = face_scene(0.0)
    error = np.abs(frame.temperatures - truth)
    assert error.max() < limit                         # quantisation of the raw words (coarser at 16 bit)
    assert np.median(error) < limit / 4
    assert abs(frame.ta - die) < 0.1 and abs(frame.vdd - 3.3) < 0.01
    assert not frame.flagged.any()
    assert {frame.subpages[0].subpage, frame.subpages[1].subpage} == {0, 1}


def test_emissivity_and_reflected_temperature_must_match_the_scene_setup() -> None:
    sensor, _ = make(bus_kwargs={"emissivity": 0.95, "reflected_c": 20.0}, emissivity=0.95, reflected_c=20.0)
    assert np.abs(sensor.read_frame().temperatures - face_scene(0)[0]).max() < 0.25
    sensor.emissivity = 1.0                            # the driver now assumes a black body: warm pixels read lower
    frame = sensor.read_frame()
    assert frame.temperatures[10, 15] < 36.0


def test_subpages_alternate_and_cover_the_frame() -> None:
    sensor, _ = make(refresh_hz=16)
    first, second = sensor.read_subpage(), sensor.read_subpage()
    assert first.subpage != second.subpage
    assert first.pixels.size == second.pixels.size == 384
    assert np.array_equal(np.sort(np.concatenate([first.pixels, second.pixels])), np.arange(768))
    assert np.array_equal(first.pixels, subpage_pixels(first.subpage, chess=True))


class RecordingBus:
    """Wraps the mock bus and keeps every message of every transfer (what would go over the wire)."""

    def __init__(self, bus: MockMlx90640Bus) -> None:
        self.bus, self.log = bus, []

    def i2c_rdwr(self, *msgs) -> None:
        self.bus.i2c_rdwr(*msgs)
        self.log.append([(m.flags & 1, bytes(m)) for m in msgs])


def test_wire_format_16_bit_addresses_big_endian_one_ram_transfer() -> None:
    ft = FakeTime()
    recorder = RecordingBus(MockMlx90640Bus(face_scene, clock=ft.clock, sleep=ft.sleep))
    sensor = Mlx90640(recorder, refresh_hz=32, clock=ft.clock, sleep=ft.sleep)
    sensor.open()
    eeprom_read = recorder.log[0]
    assert eeprom_read[0] == (0, b"\x24\x00") and eeprom_read[1][0] == 1 and len(eeprom_read[1][1]) == 1664
    assert eeprom_read[1][1][:2] == int(synthetic_eeprom(0)[0]).to_bytes(2, "big")
    wanted = control_word(32, 18, True)
    assert [(0, bytes([0x80, 0x0D]) + wanted.to_bytes(2, "big"))] in recorder.log
    sensor.read_subpage()                 # (the first subpage after configuring is dropped: old settings)
    recorder.log.clear()
    sensor.read_subpage()
    ram_reads = [t for t in recorder.log if t[0] == (0, b"\x04\x00")]
    assert len(ram_reads) == 1 and len(ram_reads[0][1][1]) == 1664
    assert [(0, b"\x80\x00\x00\x00")] in recorder.log          # new-data cleared, overwrite disabled
    # Per subpage: polls + RAM + status check + clear + clear check; the RAM dominates the bytes.
    assert len(recorder.log) < 16
    assert sum(len(b) + 1 for t in recorder.log for _, b in t) < 1664 + 150


def test_chunked_ram_reads_use_the_configured_transfer_size() -> None:
    ft = FakeTime()
    recorder = RecordingBus(MockMlx90640Bus(face_scene, clock=ft.clock, sleep=ft.sleep))
    sensor = Mlx90640(recorder, chunk_words=100, clock=ft.clock, sleep=ft.sleep)
    sensor.open()
    sensor.read_subpage()
    recorder.log.clear()
    sensor.read_subpage()
    reads = [t[1][1] for t in recorder.log if len(t) == 2 and 0x0400 <= int.from_bytes(t[0][1], "big") < 0x0740]
    assert [len(r) for r in reads] == [200] * 8 + [64]


def test_late_subpages_are_discarded_not_merged() -> None:
    """Scene temperature = seconds since start: every frame must be made of two consecutive measurements,
    taken after the read was asked for, however irregular the caller is."""
    ft = FakeTime()
    sensor, bus = make(scene=lambda t: (np.full((24, 32), 20.0 + t), 30.0), ft=ft, refresh_hz=16)
    rng = np.random.default_rng(7)
    for _ in range(30):
        ft.sleep(float(rng.choice([0.0, 0.01, 0.07, 0.2, 2.0])))
        asked = bus.scene_time()
        frame = sensor.read_frame()
        halves = [float(np.median(s.to)) - 20.0 for s in frame.subpages]
        assert abs(abs(halves[1] - halves[0]) - 1 / 16) < 0.02            # consecutive measurements
        assert min(halves) > asked - 1 / 16 - 0.02                          # not older than one period before the call
    assert sensor.health.counters["late_discarded"] >= 5
    assert sensor.health.state is HealthState.ok


def test_mock_follows_refresh_rate_and_overwrite_bit() -> None:
    ft = FakeTime()
    bus = MockMlx90640Bus(uniform_scene(), clock=ft.clock, sleep=ft.sleep)
    sensor = Mlx90640(bus, refresh_hz=4, clock=ft.clock, sleep=ft.sleep)
    sensor.open()
    start = bus.stats["measured"]
    ft.sleep(10.0)
    sensor.read_subpage(timeout=1.0)
    assert bus.stats["measured"] - start == pytest.approx(40 + 4 * 0.5, abs=3)
    assert bus.stats["blocked"] >= 35                         # nobody read: RAM kept, not overwritten
    sensor.transport.write_register(STATUS_REG, STATUS_OVERWRITE)
    ft.sleep(1.0)
    sensor.transport.read_register(STATUS_REG)
    assert bus.stats["overwritten"] >= 3


def test_scene_must_be_24_by_32_finite_temperatures() -> None:
    with pytest.raises(ValueError, match=r"expected \(24, 32\)"):
        MockMlx90640Bus(lambda t: (np.zeros((8, 8)), 25.0))
    with pytest.raises(ValueError, match="non-finite"):
        MockMlx90640Bus(lambda t: (np.full((24, 32), np.nan), 25.0))


def test_thermal_sensor_adapter_on_mock_bus() -> None:
    sensor = Mlx90640I2CSensor(bus=MockMlx90640Bus(face_scene), refresh_hz=64, adc_resolution=18, mode="chess",
                               emissivity=0.98)
    with sensor:
        frames = [sensor.read(timeout=1.0) for _ in range(3)]
    assert all(isinstance(f, ThermalFrame) for f in frames)
    assert [f.seq for f in frames] == [1, 2, 3]
    assert frames[0].timestamp < frames[1].timestamp < frames[2].timestamp
    # One frame = two subpages at 64 Hz (31 ms); no tighter bound on wall-clock time than a busy machine keeps.
    assert frames[2].timestamp - frames[1].timestamp >= 2 / 64 * 0.5
    f = frames[-1]
    assert f.temperatures.shape == (24, 32) and f.temperatures.dtype == np.float32
    assert np.abs(f.temperatures - face_scene(0)[0]).max() < 0.25
    assert math.isclose(f.ambient_c, 30.0, abs_tol=0.1) and f.flagged is None
    assert sensor.health.state is HealthState.ok and sensor.health.counters["frames"] == 3


def test_bad_pixels_interpolated_and_flagged_through_the_adapter() -> None:
    bus = MockMlx90640Bus(face_scene, eeprom=synthetic_eeprom(2, broken=(300,), outliers=(400,)))
    sensor = Mlx90640I2CSensor(bus=bus, refresh_hz=64)
    with sensor:
        frame = sensor.read(timeout=1.0)
    assert frame.flagged is not None and np.flatnonzero(frame.flagged).tolist() == [300, 400]
    truth = face_scene(0)[0].reshape(-1)
    assert abs(frame.temperatures.reshape(-1)[300] - truth[300]) < 0.3
    assert abs(frame.temperatures.reshape(-1)[400] - truth[400]) < 0.3


def test_control_register_keeps_unrelated_bits() -> None:
    ft = FakeTime()
    bus = MockMlx90640Bus(face_scene, clock=ft.clock, sleep=ft.sleep)
    probe = Mlx90640(bus, clock=ft.clock, sleep=ft.sleep)
    probe.transport.open()
    probe.transport.write_register(CONTROL_REG, 0x1901 | 0x0004)         # bit 2: data hold
    probe.transport.configure()
    assert bus.control & 0x0004


@pytest.mark.parametrize(("bus_hz", "refresh_hz"), [(1_000_000, 32), (400_000, 16)])
def test_bus_fast_enough_for_the_refresh_rate_loses_no_subpage(bus_hz: int, refresh_hz: float) -> None:
    """Wire time only (fake clock): a 1664-byte RAM read takes 15 ms at 1 MHz, 38 ms at 400 kHz."""
    ft = FakeTime()
    sensor, bus = make(scene=lambda t: (np.full((24, 32), 20.0 + 10 * t), 30.0), ft=ft, refresh_hz=refresh_hz,
                       bus_kwargs={"bus_hz": bus_hz})
    sensor.read_frame()
    measured, delivered = bus.stats["measured"], sensor.health.counters["subpages"]
    frames = [sensor.read_frame() for _ in range(20)]
    assert bus.stats["measured"] - measured == sensor.health.counters["subpages"] - delivered
    assert bus.stats["blocked"] == 0
    for frame in frames:
        halves = sorted(float(np.median(s.to)) for s in frame.subpages)
        assert halves[1] - halves[0] == pytest.approx(10 / refresh_hz, abs=0.05)


def test_too_slow_a_bus_for_the_refresh_rate_is_named() -> None:
    """At 400 kHz the 38 ms RAM read outlasts the 31 ms of a 32 Hz subpage: every other measurement is lost, so
    only one subpage ever arrives and no frame can be built; the error says why."""
    sensor, _ = make(refresh_hz=32, bus_kwargs={"bus_hz": 400_000})
    with pytest.raises(SubpageTimeout, match="reading the RAM takes 38 ms, about the 31 ms refresh period"):
        sensor.read_frame(timeout=1.0)
    assert sensor.health.state is HealthState.failed
