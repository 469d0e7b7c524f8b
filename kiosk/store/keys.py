"""Key files in `<keys_dir>` (docs/contracts.md section 3): creation, permission checks and loading.

Secrets are read from `$CREDENTIALS_DIRECTORY/<name>` first (systemd `LoadCredential=` /
`LoadCredentialEncrypted=`, i.e. a key supplied by the system), then from `<keys_dir>/<name>`.
A secret file that group or others can read is refused, like ssh does with private keys.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFileError

TEMPLATE_KEY = "template.key"
FLEET_KEY = "fleet.key"
SIGNING_KEY = "signing.key"
SIGNING_PUB = "signing.pub"
TRUSTED_DIR = "trusted"
SECRET_BYTES = 32


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600; never replaces an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def init_keys(keys_dir: Path) -> list[str]:
    """Create whatever key material is missing under `keys_dir`; return the names created."""
    keys_dir = Path(keys_dir)
    created: list[str] = []
    if not keys_dir.exists():
        keys_dir.mkdir(mode=0o700, parents=True)
        created.append(f"{keys_dir.name}/")
    keys_dir.chmod(0o700)
    for name in (TEMPLATE_KEY, FLEET_KEY):
        if not (keys_dir / name).exists():
            _write_new(keys_dir / name, os.urandom(SECRET_BYTES))
            created.append(name)
    key_path, pub_path = keys_dir / SIGNING_KEY, keys_dir / SIGNING_PUB
    if pub_path.exists() and not key_path.exists():
        raise KeyFileError(f"{pub_path} exists without {key_path}: restore the private key or remove the public one")
    if not key_path.exists():
        private = Ed25519PrivateKey.generate()
        _write_new(key_path, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        created.append(SIGNING_KEY)
    if not pub_path.exists():
        public = load_signing_key(keys_dir).public_key()
        _write_new(pub_path, public.public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
        created.append(SIGNING_PUB)
    check_key_pair(keys_dir, load_signing_key(keys_dir))
    trusted = keys_dir / TRUSTED_DIR
    if not trusted.exists():
        trusted.mkdir(mode=0o700)
        created.append(f"{TRUSTED_DIR}/")
    return created


def secret_path(keys_dir: Path, name: str) -> Path:
    """Where the secret `name` is read from: the systemd credentials directory if it has it, else `keys_dir`."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / name).is_file():
        return Path(credentials) / name
    return Path(keys_dir) / name


def _read_private(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"{path} is accessible to group or others (mode {stat.S_IMODE(mode):04o}); "
                               f"run: chmod 600 {path}")
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{path} not found: run `kiosk keys init --dir {path.parent}`") from None
    except PermissionError:
        raise KeyFileError(f"{path}: permission denied (the key is readable by its owner only)") from None


def read_secret(keys_dir: Path, name: str) -> bytes:
    """A 32-byte symmetric key (template.key or fleet.key)."""
    path = secret_path(keys_dir, name)
    data = _read_private(path)
    if len(data) != SECRET_BYTES:
        raise KeyFileError(f"{path} holds {len(data)} bytes; a key is exactly {SECRET_BYTES} random bytes")
    return data


_RESTORE_SIGNING = ("restore the device's signing.key from its backup (a new key cannot continue the signed "
                    "audit ledger)")


def load_signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The device's Ed25519 key; KeyFileError (one line with the fix) for anything else, so nothing is
    ever granted or stored unsigned."""
    path = secret_path(keys_dir, SIGNING_KEY)
    data = _read_private(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):   # garbage, truncated, encrypted, unknown algorithm
        raise KeyFileError(f"{path} is not an unencrypted PEM private key: {_RESTORE_SIGNING}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key: {_RESTORE_SIGNING}")
    return key


def check_key_pair(keys_dir: Path, private: Ed25519PrivateKey) -> None:
    """KeyFileError when `<keys_dir>/signing.pub` (what HR and the fleet verify with, and what MQTT
    publishes) is not the public half of `private`. A missing signing.pub is not checked."""
    pub_path = Path(keys_dir) / SIGNING_PUB
    if not pub_path.exists():
        return
    public = load_public_key(pub_path)
    expected = private.public_key()
    if _raw(public) != _raw(expected):
        raise KeyFileError(f"{pub_path} (key id {key_id(public)}) does not match {secret_path(keys_dir, SIGNING_KEY)} "
                           f"(key id {key_id(expected)}): restore the matching pair, or delete {pub_path.name} and "
                           f"run `kiosk keys init --dir {pub_path.parent}` to derive it from the private key")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (signing.pub, or a trusted/ key)."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except FileNotFoundError:
        raise KeyFileError(f"{path} not found") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """First 16 hex chars of sha256 over the raw 32-byte public key (docs/contracts.md section 1)."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]
