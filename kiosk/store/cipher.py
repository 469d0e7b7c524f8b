"""AES-256-GCM encryption of face data at rest, each ciphertext bound to its row.

The associated data names the row (kind, row id, person id, model id), so a ciphertext copied
into another row, or a row re-assigned to another person, fails authentication instead of
silently matching the wrong person.
"""
from __future__ import annotations

import os

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import TemplateKeyError

NONCE_BYTES = 12
_KEY_CHECK_AAD = b"kiosk/key-check/v1"
_KEY_CHECK_PLAIN = b"kiosk template key check"


def template_aad(template_id: str, person_id: str, model_id: str) -> bytes:
    return f"kiosk/template/v1|{template_id}|{person_id}|{model_id}".encode()


def image_aad(image_id: str, person_id: str) -> bytes:
    return f"kiosk/image/v1|{image_id}|{person_id}".encode()


def embedding_to_bytes(embedding: np.ndarray) -> bytes:
    """float32 little-endian, the wire and at-rest form of an embedding."""
    return np.ascontiguousarray(embedding, dtype="<f4").reshape(-1).tobytes()


def embedding_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


class Cipher:
    """AES-GCM under one 32-byte key, with a random 96-bit nonce per message."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise TemplateKeyError("a ciphertext failed authentication: wrong template key, or the row was "
                                   "altered or moved") from None

    def key_check(self) -> tuple[bytes, bytes]:
        """A value stored once per database so that a wrong key is named at open, not at first match."""
        return self.encrypt(_KEY_CHECK_PLAIN, _KEY_CHECK_AAD)

    def verify_key_check(self, nonce: bytes, ciphertext: bytes) -> bool:
        try:
            return self._aead.decrypt(nonce, ciphertext, _KEY_CHECK_AAD) == _KEY_CHECK_PLAIN
        except InvalidTag:
            return False
