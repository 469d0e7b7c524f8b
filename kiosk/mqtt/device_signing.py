"""Messages signed by a kiosk (command results, status) and their verification against pinned keys.

A kiosk signs with its device key (`signing.key`, the one that signs events), through the same
envelope signing as commands, so the canonical form is the one of docs/contracts.md section 1.
A verifier trusts only keys pinned in its own configuration: `<device_keys_dir>/<device id>.pub`,
plus the configuration's own `signing.pub` for its own device id. A key carried by a message
(e.g. the status) is never used to verify it: whoever can publish could send a key with it.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..store.keys import key_id, load_public_key
from .signing import SignatureError, sign_envelope, verify_envelope

DEVICE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def sign_message(message: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of `message` with the device's `signature` block."""
    return sign_envelope(message, private_key)


class PinnedDeviceKeys:
    """The device public keys a verifier was given by its operator, never learned from the broker."""

    def __init__(self, directory: Path, own: Optional[tuple[str, Path]] = None) -> None:
        self.directory = Path(directory)
        self._own = own

    def path_for(self, device_id: str) -> Path:
        if self._own is not None and device_id == self._own[0]:
            return self._own[1]
        return self.directory / f"{device_id}.pub"

    def key_for(self, device_id: str) -> Ed25519PublicKey:
        """The pinned key of `device_id`; SignatureError when none is pinned (or the file is bad)."""
        if not device_id or not set(device_id) <= DEVICE_ID_CHARS:
            raise SignatureError(f"{device_id!r} is not a device id")
        path = self.path_for(device_id)
        if not path.is_file():
            raise SignatureError(f"no key pinned for device {device_id!r}: copy its signing.pub (`kiosk keys show` "
                                 f"on that kiosk) to {path}")
        try:
            return load_public_key(path)
        except Exception as exc:   # KeyFileError and friends: one line
            raise SignatureError(f"pinned key {path}: {exc}") from None


def verify_message(message: Mapping[str, Any], device_id: str, pinned: PinnedDeviceKeys) -> str:
    """The key id when `message` carries `device_id` and is signed by that device's pinned key, else SignatureError."""
    if message.get("device_id") != device_id:
        raise SignatureError(f"the message names device {message.get('device_id')!r}, not {device_id!r}")
    public = pinned.key_for(device_id)
    pinned_id = key_id(public)
    signature = message.get("signature")
    if not isinstance(signature, Mapping):
        raise SignatureError(f"not signed; {device_id} signs with key {pinned_id}")
    if signature.get("key_id") != pinned_id:
        raise SignatureError(f"signed by key {signature.get('key_id')!r}, not by {pinned_id} pinned for {device_id}")
    try:
        return verify_envelope(message, {pinned_id: public})
    except SignatureError as exc:
        raise SignatureError(f"bad signature by the key pinned for {device_id}: {exc}") from None
