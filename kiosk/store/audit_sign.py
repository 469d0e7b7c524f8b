"""Ed25519 statements about the audit ledger, made with the device signing key (docs/contracts.md section 6).

Each statement signs one line of ASCII, `kiosk-audit/1 <kind> <seq> <hash>[ <extra>...]`, so a
signature made for one kind (a record, the anchor left by a purge, the legacy boundary, the head)
can never be replayed as another. The hash chain itself is unchanged: these signatures sit beside it.
"""
from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RECORD, ANCHOR, LEGACY, HEAD = "record", "anchor", "legacy", "head"
_PREFIX = "kiosk-audit/1"


def message(kind: str, seq: int, hash_: str, *extra: int) -> bytes:
    return " ".join([_PREFIX, kind, str(int(seq)), hash_, *(str(int(x)) for x in extra)]).encode("ascii")


def sign(key: Ed25519PrivateKey, kind: str, seq: int, hash_: str, *extra: int) -> str:
    """The base64 signature of one statement."""
    return base64.b64encode(key.sign(message(kind, seq, hash_, *extra))).decode("ascii")


def is_valid(public: Ed25519PublicKey, signature: object, kind: str, seq: int, hash_: str, *extra: int) -> bool:
    """Whether `signature` (base64 text) signs this statement under `public`; False for anything malformed."""
    if not isinstance(signature, str) or not signature:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        public.verify(raw, message(kind, seq, hash_, *extra))
    except (binascii.Error, ValueError, UnicodeEncodeError, InvalidSignature):
        return False
    return True
