"""Canonical JSON: RFC 8785's own examples, the legacy form unchanged, and the block's "canon" choosing between them."""
from __future__ import annotations

import json
import struct

import pytest

from kiosk.store import canon

# RFC 8785 appendix B: IEEE 754 bit patterns and their canonical text.
NUMBERS = [
    ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize("bits, text", NUMBERS)
def test_numbers_are_written_as_ecmascript_does(bits: str, text: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canon.jcs(value) == text.encode()


def test_whole_number_floats_lose_their_fraction_only_in_jcs() -> None:
    body = {"temperature": {"body_c": 36.0, "quality": 1.0}, "mask": {"score": 0.0}}
    assert canon.jcs(body) == b'{"mask":{"score":0},"temperature":{"body_c":36,"quality":1}}'
    assert canon.legacy(body) == b'{"mask":{"score":0.0},"temperature":{"body_c":36.0,"quality":1.0}}'


def test_rfc_example_strings_literals_and_numbers() -> None:
    text = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
            '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}')
    expected = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    assert canon.jcs(json.loads(text)) == expected.encode("utf-8")


def test_keys_sort_by_utf16_code_units() -> None:
    names = ["\u20ac", "\r", "\ufb33", "1", "\U0001F600", "\u0080", "\u00f6"]
    order = list(json.loads(canon.jcs({name: 0 for name in names})))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001F600", "\ufb33"]   # the emoji's surrogates
    assert list(json.loads(canon.legacy({name: 0 for name in names})))[-1] == "\U0001F600"  # code points differ


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2 ** 53 + 1, {1: "x"}, "\ud800", b"raw"])
def test_what_jcs_cannot_carry_exactly_is_refused(value) -> None:
    with pytest.raises(ValueError):
        canon.jcs({"v": value})


def test_the_signature_block_names_the_form() -> None:
    assert canon.for_block({"alg": "Ed25519", "canon": "jcs"}) is canon.jcs
    assert canon.for_block({"alg": "Ed25519"}) is canon.legacy
    with pytest.raises(ValueError, match="unsupported canonicalization 'c14n'"):
        canon.for_block({"canon": "c14n"})
