"""Properties of the EEPROM parser (hypothesis): a damaged read (flipped bits, stuck words, a shifted or
truncated image, random words) gives a Calibration or an EepromError naming the problem, never another
exception, NaN or infinity in the parameters the frame maths divides by."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drivers.mlx90640.eeprom import EEPROM_WORDS, EepromError, parse_eeprom
from drivers.mlx90640.synthetic import synthetic_eeprom

GOOD = synthetic_eeprom(0)


def _parse(words: np.ndarray) -> None:
    try:
        calibration = parse_eeprom(words)
    except EepromError as exc:
        assert str(exc)                               # a message that names the problem
        return
    for name in ("sensitivity", "alpha", "kta", "kv", "offset"):
        values = np.asarray(getattr(calibration, name), float)
        assert np.isfinite(values).all(), name


@settings(max_examples=300, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, EEPROM_WORDS - 1), st.integers(0, 15)), min_size=1, max_size=12))
def test_flipped_bits_in_a_good_image(flips: list[tuple[int, int]]) -> None:
    words = GOOD.copy()
    for index, bit in flips:
        words[index] ^= 1 << bit
    _parse(words)


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, EEPROM_WORDS - 1), length=st.integers(1, 64), value=st.sampled_from([0, 0xFFFF, 0x8000]))
def test_a_run_of_stuck_words(start: int, length: int, value: int) -> None:
    words = GOOD.copy()
    words[start:start + length] = value
    _parse(words)


@settings(max_examples=100, deadline=None)
@given(words=arrays(np.uint16, EEPROM_WORDS))
def test_random_words(words: np.ndarray) -> None:
    _parse(words)


@settings(max_examples=50, deadline=None)
@given(shift=st.integers(1, 40))
def test_an_image_read_from_the_wrong_address(shift: int) -> None:
    _parse(np.roll(GOOD, shift))


@pytest.mark.parametrize(("words", "message"), [(GOOD[:-1], "expected 832 words"), (GOOD.astype(float), "integers")])
def test_wrong_length_and_type_are_named(words: np.ndarray, message: str) -> None:
    with pytest.raises(EepromError, match=message):
        parse_eeprom(words)
