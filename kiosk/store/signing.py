"""Ed25519 signatures over events (docs/contracts.md section 1)."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import canon
from .canon import legacy as canonical  # noqa: F401  the audit ledger's record hashes keep the legacy form
from .errors import RecordError
from .keys import key_id

ALG = "Ed25519"
# Keys that would carry face data; an event holding any of them is refused (no face data in events).
FACE_DATA_KEYS = frozenset({"embedding", "embeddings", "template", "templates", "image", "images", "chip",
                            "face_image", "embedding_b64"})


def _face_data_path(obj: Any, path: str = "") -> str | None:
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if str(key).lower() in FACE_DATA_KEYS:
                return f"{path}{key}"
            found = _face_data_path(value, f"{path}{key}.")
            if found:
                return found
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            found = _face_data_path(value, f"{path}{index}.")
            if found:
                return found
    elif isinstance(obj, bytes | bytearray):
        return path.rstrip(".") or "(event)"
    return None


def check_no_face_data(event: Mapping[str, Any]) -> None:
    """RecordError when the event holds an embedding, an image or raw bytes anywhere."""
    found = _face_data_path(event)
    if found:
        raise RecordError(f"event field '{found}' would carry face data; events never hold embeddings or images")


class EventSigner:
    """Signs events with the device key; `key_id` names the key for verifiers."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `event` with its `signature` (any earlier signature is replaced)."""
        body = {k: v for k, v in event.items() if k != "signature"}
        check_no_face_data(body)
        try:
            message = canon.jcs(body)
        except ValueError as exc:
            raise RecordError(f"event cannot be signed as RFC 8785 JSON: {exc}") from None
        value = base64.b64encode(self._key.sign(message)).decode("ascii")
        return {**body, "signature": {"alg": ALG, "key_id": self.key_id, "canon": canon.JCS, "value": value}}


def verify_event(event: Mapping[str, Any], public_keys: Iterable[Ed25519PublicKey]) -> str | None:
    """None when the signature is valid under one of `public_keys`, else the reason it is not."""
    signature = event.get("signature")
    if not isinstance(signature, Mapping):
        return "no signature"
    if signature.get("alg") != ALG:
        return f"unsupported algorithm {signature.get('alg')!r}"
    keys = {key_id(k): k for k in public_keys}
    public = keys.get(str(signature.get("key_id")))
    if public is None:
        return f"signed by unknown key {signature.get('key_id')!r}"
    try:
        raw = base64.b64decode(str(signature.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        return "signature value is not base64"
    body = {k: v for k, v in event.items() if k != "signature"}
    try:
        public.verify(raw, canon.for_block(signature)(body))
    except ValueError as exc:   # an unknown "canon", or content the named form cannot carry
        return str(exc)
    except InvalidSignature:
        return "signature does not match the content (altered event or wrong key)"
    return None
