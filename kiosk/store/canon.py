"""The canonical JSON forms that signatures cover, named by the signature block's "canon" field.

New signatures use RFC 8785, the JSON Canonicalization Scheme (`"canon": "jcs"`): any language can
reproduce its bytes from the parsed JSON. Blocks without "canon" were signed over the legacy form,
Python's sorted-keys `json.dumps`, which no other language reproduces (it writes the float 36.0 as
`36.0` where JavaScript writes `36`); they keep verifying. The audit ledger's record hashes use the
legacy form too (docs/contracts.md section 1).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import rfc8785

JCS = "jcs"


def legacy(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def jcs(obj: Any) -> bytes:
    """RFC 8785 bytes; ValueError for what it cannot carry exactly: NaN, infinities, integers beyond
    2**53, non-string keys, lone surrogates, types JSON does not have."""
    return rfc8785.dumps(obj)


def for_block(signature: Mapping[str, Any]) -> Callable[[Any], bytes]:
    """The canonical form a signature block names; ValueError when it names an unknown one."""
    canon = signature.get("canon")
    if canon is None:
        return legacy
    if canon == JCS:
        return jcs
    raise ValueError(f"unsupported canonicalization {canon!r}")
