"""The backup archive: a gzipped tar of the state (the payload), sealed under a passphrase.

Sealed layout: magic `KIOSK-BACKUP` (12 bytes), format version (1 byte), scrypt log2(n), r, p (1 byte each),
salt (16), passphrase check (16), nonce (12), then the AES-256-GCM ciphertext and tag of the payload,
with the whole header as associated data (a changed header byte fails like a changed payload byte).

scrypt gives 48 bytes: the first 32 are the key, the last 16 the passphrase check kept in the header,
so a wrong passphrase is told apart from a damaged archive. The check helps a guesser no more than
the tag would: each guess still costs one scrypt.
"""
from __future__ import annotations

import hmac
import io
import os
import struct
import tarfile

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"KIOSK-BACKUP"
VERSION = 1
LOG2_N, R, P = 15, 8, 1             # 32 MiB and about 0.1 s on a desktop, under a second on a Pi 4
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024   # a crafted header must not make restore allocate more
MIN_PASSPHRASE = 10
_HEADER = struct.Struct(">12sBBBB16s16s12s")


class BackupError(Exception):
    """A backup or restore problem, as one line for the operator."""


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    derived = Scrypt(salt=salt, length=48, n=1 << log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return derived[:32], derived[32:]


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase is shorter than {MIN_PASSPHRASE} characters: the archive holds the "
                          "device's keys and everyone's face data")


def seal(payload: bytes, passphrase: str, *, log2_n: int = LOG2_N) -> bytes:
    """Encrypt `payload` under `passphrase`."""
    check_passphrase(passphrase)
    salt, nonce = os.urandom(16), os.urandom(12)
    key, check = _derive(passphrase, salt, log2_n, R, P)
    header = _HEADER.pack(MAGIC, VERSION, log2_n, R, P, salt, check, nonce)
    return header + AESGCM(key).encrypt(nonce, payload, header)


def unseal(data: bytes, passphrase: str) -> bytes:
    """The payload of a sealed archive; BackupError when it is not one, the passphrase is wrong or it was altered."""
    if len(data) < _HEADER.size + 16 or not data.startswith(MAGIC):
        raise BackupError("not a kiosk backup archive")
    _, version, log2_n, r, p, salt, check, nonce = _HEADER.unpack_from(data)
    if version != VERSION:
        raise BackupError(f"backup format v{version} is not one this software reads (v{VERSION})")
    if not (10 <= log2_n <= 24 and 1 <= r <= 32 and 1 <= p <= 4) or 128 * r * (1 << log2_n) > MAX_SCRYPT_MEMORY:
        raise BackupError("the archive header asks for scrypt parameters out of range: it is damaged or was altered")
    key, expected = _derive(passphrase, salt, log2_n, r, p)
    if not hmac.compare_digest(check, expected):
        raise BackupError("wrong passphrase (or the archive header was altered)")
    header = data[:_HEADER.size]
    try:
        return AESGCM(key).decrypt(nonce, data[_HEADER.size:], header)
    except InvalidTag:
        raise BackupError("the archive is damaged or was altered: it fails authentication") from None


def pack(members: dict[str, bytes], mtime: int) -> bytes:
    """The payload: a gzipped tar of the members (name -> content), each 0600."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, mtime
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack(payload: bytes) -> dict[str, bytes]:
    """Name -> content of a payload's members (regular files only)."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
            for info in tar:
                extracted = tar.extractfile(info) if info.isfile() else None
                if extracted is None:
                    raise BackupError(f"archive member {info.name!r} is not a regular file")
                members[info.name] = extracted.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"the archive's content is not readable ({exc})") from None
    return members
