"""Signed command envelopes: building and signing (operator side), verifying (device side).

The signature covers the canonical JSON of the envelope without "signature", in the same forms as
events (docs/contracts.md section 1): new signatures use RFC 8785 (`"canon": "jcs"`), blocks
without "canon" the legacy form, so one verifier works for both.
"""
from __future__ import annotations

import base64
import binascii
import logging
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..store import canon
from ..store.keys import key_id, load_public_key

ALG = "Ed25519"
log = logging.getLogger("kiosk.mqtt")


class SignatureError(Exception):
    """Why a command's signature is not acceptable (one line)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_envelope(command: str, device_id: str, params: Mapping[str, Any], request_id: str | None = None,
                 issued_at: str | None = None) -> dict[str, Any]:
    """An unsigned command envelope with a fresh nonce and the current time."""
    return {"command": command, "request_id": request_id or uuid.uuid4().hex, "device_id": device_id,
            "issued_at": issued_at or now_iso(), "nonce": secrets.token_urlsafe(18), "params": dict(params)}


def sign_envelope(envelope: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of `envelope` signed over its RFC 8785 form; ValueError when it holds what that cannot carry."""
    body = {k: v for k, v in envelope.items() if k != "signature"}
    value = base64.b64encode(private_key.sign(canon.jcs(body))).decode("ascii")
    return {**body, "signature": {"alg": ALG, "key_id": key_id(private_key.public_key()), "canon": canon.JCS,
                                  "value": value}}


def verify_envelope(envelope: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]) -> str:
    """The key id that signed `envelope`; SignatureError when unsigned, unknown key or bad signature."""
    signature = envelope.get("signature")
    if not isinstance(signature, Mapping):
        raise SignatureError("the command is not signed (command_auth = signed)")
    if signature.get("alg") != ALG:
        raise SignatureError(f"unsupported signature algorithm {signature.get('alg')!r}")
    kid = str(signature.get("key_id"))
    public = trusted.get(kid)
    if public is None:
        raise SignatureError(f"signed by key {kid!r}, which this device does not trust")
    try:
        raw = base64.b64decode(str(signature.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature value is not base64") from None
    body = {k: v for k, v in envelope.items() if k != "signature"}
    try:
        public.verify(raw, canon.for_block(signature)(body))
    except ValueError as exc:   # an unknown "canon", or content the named form cannot carry
        raise SignatureError(str(exc)) from None
    except InvalidSignature:
        raise SignatureError("signature does not match the command (altered, or signed by another key)") from None
    return kid


class TrustedKeys:
    """The Ed25519 public keys in a directory (`*.pem`, `*.pub`), re-read when the directory changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._stamp: tuple[Any, ...] | None = None
        self._keys: dict[str, Ed25519PublicKey] = {}

    def keys(self) -> dict[str, Ed25519PublicKey]:
        """key_id -> key (blocking file I/O: call off the event loop)."""
        try:
            files = sorted(p for p in self.directory.iterdir() if p.suffix in (".pem", ".pub") and p.is_file())
            stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        except FileNotFoundError:
            files, stamp = [], ()
        if stamp != self._stamp:
            keys: dict[str, Ed25519PublicKey] = {}
            for path in files:
                try:
                    public = load_public_key(path)
                except Exception as exc:  # one bad file must not disable the others
                    log.error("trusted key %s ignored: %s", path, exc)
                    continue
                keys[key_id(public)] = public
            self._keys, self._stamp = keys, stamp
        return self._keys


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with offset (ValueError otherwise)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value


__all__ = ["SignatureError", "TrustedKeys", "new_envelope", "sign_envelope", "verify_envelope", "now_iso",
           "parse_time", "key_id"]
