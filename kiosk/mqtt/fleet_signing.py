"""Signatures on fleet person records (docs/contracts.md section 2).

A record is signed by the kiosk that publishes it, with its device key (`signing.key`), in the
envelope form of section 1. A receiver accepts it only when the key is pinned in its own
configuration: a `*.pub` in `<device_keys_dir>`, or its own `signing.pub`. The signer may differ
from `version.device`: kiosks republish each other's records (convergence, repairs), so the
signature says "a kiosk of this site vouches for this record", which is what a captured fleet key
alone can no longer forge.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..store.keys import key_id
from .signing import SignatureError, TrustedKeys, sign_envelope, verify_envelope


class FleetSigning:
    def __init__(self, private_key: Ed25519PrivateKey, pinned_dir: Path) -> None:
        self._private = private_key
        public = private_key.public_key()
        self._own = {key_id(public): public}
        self._pinned = TrustedKeys(pinned_dir)

    def sign(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return sign_envelope(record, self._private)

    def verify(self, record: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(signer key id, the record without its signature); SignatureError when unsigned, signed by a key
        that is not pinned, or altered. Blocking file I/O (re-reads the pinned keys when they change)."""
        if not isinstance(record.get("signature"), Mapping):
            raise SignatureError("the record is not signed")
        kid = verify_envelope(record, {**self._pinned.keys(), **self._own})
        return kid, {k: v for k, v in record.items() if k != "signature"}
