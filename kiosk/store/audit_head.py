"""The signed audit head: a small JSON file outside the database naming the newest record ever written.

The database alone cannot show that its newest records (or all of them) were deleted; this file,
signed with the device key and replaced atomically (fsync, rename, fsync of the directory), can.
`first_seq` is the first record the file vouches for: it is set when the file is created, inside
the write transaction of the first record it covers, so a file deleted and re-created later names
a `first_seq` above records signed before it, and `audit verify` reports that.

Writers in several processes (the daemon and the CLI) take an flock on `<file>.lock`; the head
only ever moves forward.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..runtime.files import write_atomic
from . import audit_sign
from .clock import to_utc_iso, utc_now
from .errors import StoreError
from .keys import key_id


def default_head_path(database: Path) -> Path:
    """Next to the database: kiosk.db -> kiosk.audit-head.json."""
    return Path(database).with_suffix(".audit-head.json")


class HeadFileError(StoreError):
    """The head file exists but cannot be read as a signed head."""


@dataclass(frozen=True)
class SignedHead:
    seq: int            # the newest record written (0 = none yet)
    hash: str           # its hash (or the anchor's / 64 zeros)
    first_seq: int      # the first record this file vouches for
    at: str             # when it was written (UTC), for people; not signed
    key_id: str
    signature: str      # over ("head", seq, hash, first_seq)

    def is_signed_by(self, public: Ed25519PublicKey) -> bool:
        return audit_sign.is_valid(public, self.signature, audit_sign.HEAD, self.seq, self.hash, self.first_seq)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def make(cls, key: Ed25519PrivateKey, seq: int, hash_: str, first_seq: int) -> SignedHead:
        return cls(seq, hash_, first_seq, to_utc_iso(utc_now()), key_id(key.public_key()),
                   audit_sign.sign(key, audit_sign.HEAD, seq, hash_, first_seq))

    @classmethod
    def parse(cls, data: Any) -> SignedHead:
        """ValueError naming the problem when `data` is not a head."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        missing = [k for k in ("seq", "hash", "first_seq", "signature") if k not in data]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if not all(isinstance(data[k], int) and not isinstance(data[k], bool) and data[k] >= 0
                   for k in ("seq", "first_seq")):
            raise ValueError("seq and first_seq must be whole numbers >= 0")
        if not isinstance(data["hash"], str) or not isinstance(data["signature"], str):
            raise ValueError("hash and signature must be strings")
        return cls(data["seq"], data["hash"], data["first_seq"], str(data.get("at", "")),
                   str(data.get("key_id", "")), data["signature"])


class HeadFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> Optional[SignedHead]:
        """The head, None when there is no file; HeadFileError when it is not a head."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise HeadFileError(f"{self.path}: cannot read the audit head ({exc})") from None
        try:
            return SignedHead.parse(json.loads(text))
        except ValueError as exc:
            raise HeadFileError(f"{self.path}: not an audit head ({exc})") from None

    def ensure(self, key: Ed25519PrivateKey, seq: int, hash_: str) -> None:
        """Create the file if missing, vouching for records after `seq` (the committed head). Call
        inside the write transaction that appends record seq + 1, so no record is signed before
        a head file exists for it."""
        if self.path.exists():
            return
        try:
            with self._locked():
                if not self.path.exists():
                    self._write(SignedHead.make(key, seq, hash_, seq + 1))
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the signed audit head: {exc.strerror or exc}") from None

    def advance(self, key: Ed25519PrivateKey, seq: int, hash_: str) -> None:
        """Move the head to (seq, hash) after its commit, unless it is already there or beyond. A
        missing file is left missing: it was removed, and the next append re-creates it."""
        with self._locked():
            current = self.read()
            if current is not None and seq > current.seq:
                self._write(SignedHead.make(key, seq, hash_, current.first_seq))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, head: SignedHead) -> None:
        write_atomic(self.path, (json.dumps(head.as_dict(), indent=2) + "\n").encode("utf-8"))
