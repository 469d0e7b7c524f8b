"""Password hashing with scrypt (RFC 7914, in the standard library through OpenSSL).

scrypt is memory-hard: each guess costs 32 MiB and about 0.1 s here, so a stolen admin.db is slow to
attack on GPUs. The parameters are stored with each hash, so raising them later keeps old hashes valid.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
LOG_N, R, P = 15, 8, 1          # 2**15 * 128 * 8 bytes = 32 MiB per hash
MAXMEM = 64 * 1024 * 1024
SALT_BYTES, HASH_BYTES = 16, 32
MIN_LENGTH, MAX_LENGTH = 10, 1024


class PasswordError(ValueError):
    """A password that does not meet the rules (one line for the operator)."""


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"the password has more than {MAX_LENGTH} characters")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2 ** log_n, r=r, p=p, maxmem=MAXMEM,
                          dklen=HASH_BYTES)


def hash_password(password: str) -> str:
    """'scrypt$15$8$1$<salt>$<hash>' (base64)."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"{SCHEME}${LOG_N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, LOG_N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison; False for a malformed stored hash or an overlong password."""
    try:
        scheme, log_n, r, p, salt, expected = stored.split("$")
        if scheme != SCHEME or len(password) > MAX_LENGTH:
            return False
        actual = _derive(password, base64.b64decode(salt), int(log_n), int(r), int(p))
        return hmac.compare_digest(actual, base64.b64decode(expected))
    except (ValueError, TypeError):
        return False


@functools.cache
def dummy_hash() -> str:
    """Checked against for unknown account names, so that they take as long as known ones."""
    return hash_password(secrets.token_urlsafe(16))
