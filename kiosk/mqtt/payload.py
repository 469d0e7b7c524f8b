"""Command payloads as text: strict UTF-8 JSON in, valid Unicode out.

`json.loads` on bytes decodes with 'surrogatepass' and accepts `\\ud800` escapes, so a payload can
carry lone UTF-16 surrogates that no UTF-8 encoder, canonical form or audit record can hold. Such
payloads are refused before anything else looks at the request; `clean` keeps other text (a
topic name) encodable.
"""
from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


class PayloadError(ValueError):
    """The payload is not valid UTF-8 JSON text (one line, safe to echo)."""


def parse(payload: bytes) -> Any:
    """The JSON value of a payload; PayloadError when it is not UTF-8 (lone surrogates encoded in
    UTF-8 pass here, for `check_text` to refuse once the request id is known) or not JSON."""
    try:
        text = payload.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not valid UTF-8 (byte {exc.start}: {exc.reason})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"not valid JSON: {clean(str(exc))[:200]}") from None


def check_text(value: Any) -> None:
    """PayloadError when a string (or key) in a parsed payload holds a lone surrogate."""
    if _holds_surrogate(value):
        raise PayloadError("not valid UTF-8/Unicode text: a string holds a lone UTF-16 surrogate (U+D800-U+DFFF)")


def clean(text: str) -> str:
    """`text` with any lone surrogate replaced by U+FFFD, so it can be encoded, signed and audited."""
    return _SURROGATE.sub("\ufffd", text)


def _holds_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
