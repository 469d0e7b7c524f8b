"""EEPROM extraction of the synthetic calibration, and refusal of EEPROMs that cannot be a calibration."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.mlx90640.compute import Calculator, FrameDataError
from drivers.mlx90640.eeprom import EepromError, parse_eeprom
from drivers.mlx90640.inverse import RamSynthesizer
from drivers.mlx90640.registers import control_word
from drivers.mlx90640.synthetic import synthetic_eeprom


@pytest.mark.parametrize("seed", range(8))
def test_synthetic_eeprom_decodes_to_plausible_calibration(seed: int) -> None:
    c = parse_eeprom(synthetic_eeprom(seed))
    assert -4096 <= c.k_vdd < 0 and c.vdd25 < 0
    assert 2e-8 < c.sensitivity.min() and c.sensitivity.max() < 1.5e-7
    assert c.offset.dtype == np.int16 and -200 < c.offset.min() and c.offset.max() < 50
    assert 0.003 < (c.kta / 2.0 ** c.kta_scale).mean() < 0.012
    assert 0.1 < (c.kv / 2.0 ** c.kv_scale).mean() < 0.5
    assert c.ct.tolist() == [-40, 0, 300, 500] and c.calibration_chess and c.resolution_ee == 2
    assert c.broken_pixels.size == 0 and c.outlier_pixels.size == 0
    # The fixed-point scales use the full range, as in Melexis' library.
    assert 32767.4 <= c.alpha.max() <= 65535 and 63 <= np.abs(c.kta).max() <= 127


def test_seeds_are_different_devices_and_reproducible() -> None:
    assert np.array_equal(synthetic_eeprom(3), synthetic_eeprom(3))
    assert not np.array_equal(synthetic_eeprom(3)[64:], synthetic_eeprom(4)[64:])


def test_synthetic_options_reach_the_parameters() -> None:
    c = parse_eeprom(synthetic_eeprom(1, calibrated_chess=False, resolution_ee=3, broken=(40,), outliers=(300,)))
    assert not c.calibration_chess and c.resolution_ee == 3
    assert c.broken_pixels.tolist() == [40] and c.outlier_pixels.tolist() == [300]
    assert Calculator(c).flagged.reshape(-1).nonzero()[0].tolist() == [40, 300]


def _corrupt(**words: int) -> np.ndarray:
    ee = synthetic_eeprom(0).astype(np.int64)
    for index, value in words.items():
        ee[int(index[1:], 16) - 0x2400] = value
    return ee


@pytest.mark.parametrize(("words", "message"), [
    (np.zeros(832, dtype=np.uint16), "all 832 words read 0x0000"),
    (np.full(832, 0xFFFF, dtype=np.uint16), "all 832 words read 0xFFFF"),
    (np.zeros(100, dtype=np.uint16), "expected 832 words"),
    (_corrupt(a2430=0), r"gainEE \(0x2430\) = 0 is out of range"),
    (_corrupt(a2430=0xFFFF), r"gainEE \(0x2430\) = -1 is out of range"),
    (_corrupt(a2431=0), r"VPTAT25 \(0x2431\) = 0"),
    (_corrupt(a2432=0x0000), r"KtPTAT \(0x2432\) = 0"),
    (_corrupt(a2433=0x4078), r"KVdd \(0x2433\) = 2048"),
    (_corrupt(a243f=0x0F0B), "corner temperatures CT3 = 0 C"),
    (_corrupt(a2421=0), "sensitivity alpha"),
    (_corrupt(a2439=0x0000), "compensation-pixel alpha"),
])
def test_refuses_unusable_eeprom_with_one_clear_line(words: np.ndarray, message: str) -> None:
    with pytest.raises(EepromError, match=message) as info:
        parse_eeprom(words)
    text = str(info.value)
    assert text.startswith("MLX90640 EEPROM rejected: ") and "\n" not in text


def test_refuses_too_many_or_adjacent_bad_pixels() -> None:
    with pytest.raises(EepromError, match="3 broken and 2 outlier pixels"):
        parse_eeprom(synthetic_eeprom(0, broken=(10, 200, 400), outliers=(600, 700)))
    with pytest.raises(EepromError, match="bad pixels 100 and 133 are adjacent"):
        parse_eeprom(synthetic_eeprom(0, broken=(100,), outliers=(133,)))
    parse_eeprom(synthetic_eeprom(0, broken=(100, 300), outliers=(102, 500)))       # 4, none adjacent: fine


def test_ram_with_invalid_marker_or_impossible_supply_is_refused() -> None:
    calc = Calculator(parse_eeprom(synthetic_eeprom(0)))
    words = np.zeros(832, dtype=np.int16)
    control = control_word(8, 18, True)
    RamSynthesizer(calc).subpage_words(words, np.full((24, 32), 25.0), 30.0, 0, control, 1.0)
    calc.subpage(words, 0, control)
    marked = words.copy()
    marked[800] = 0x7FFF
    with pytest.raises(FrameDataError, match="0x0720 holds the invalid-data marker"):
        calc.subpage(marked, 0, control)
    row = words.copy()
    row[2 * 32] = 0x7FFF                        # first pixel of row 2, a row subpage 0 measures
    with pytest.raises(FrameDataError, match="pixel rows of subpage 0 hold the invalid-data marker"):
        calc.subpage(row, 0, control)
    garbage = words.copy()
    garbage[810] = 0
    with pytest.raises(FrameDataError, match="implausible Vdd"):
        calc.subpage(garbage, 0, control)
