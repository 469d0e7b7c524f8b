"""The device key pair at open: a garbage or unreadable signing.key, or a signing.pub of another key, is refused."""
from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.store import KeyFileError, Store, init_keys
from kiosk.store.keys import SIGNING_KEY, SIGNING_PUB


def _ec_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _encrypted(keys_dir) -> bytes:
    key = serialization.load_pem_private_key((keys_dir / SIGNING_KEY).read_bytes(), None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(b"secret"))


GARBAGE = {
    "random bytes": lambda keys: os.urandom(119),
    "empty": lambda keys: b"",
    "truncated": lambda keys: (keys / SIGNING_KEY).read_bytes()[:70],
    "public key": lambda keys: (keys / SIGNING_PUB).read_bytes(),
    "encrypted": _encrypted,
    "another algorithm": lambda keys: _ec_key(),
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_signing_key_is_refused_with_one_line(tmp_path, keys_dir, kind):
    Store(tmp_path / "kiosk.db", keys_dir).close()
    (keys_dir / SIGNING_KEY).write_bytes(GARBAGE[kind](keys_dir))
    with pytest.raises(KeyFileError) as error:
        Store(tmp_path / "kiosk.db", keys_dir)
    message = str(error.value)
    assert "\n" not in message and str(keys_dir / SIGNING_KEY) in message and "restore" in message


def test_unreadable_signing_key_is_refused(tmp_path, keys_dir):
    (keys_dir / SIGNING_KEY).chmod(0o000)
    try:
        if os.access(keys_dir / SIGNING_KEY, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(KeyFileError, match="permission denied"):
            Store(tmp_path / "kiosk.db", keys_dir)
    finally:
        (keys_dir / SIGNING_KEY).chmod(0o600)


def test_signing_pub_of_another_key_is_refused(tmp_path, keys_dir):
    init_keys(tmp_path / "other")
    (keys_dir / SIGNING_PUB).write_bytes((tmp_path / "other" / SIGNING_PUB).read_bytes())
    with pytest.raises(KeyFileError, match="does not match") as error:
        Store(tmp_path / "kiosk.db", keys_dir)
    assert "kiosk keys init" in str(error.value)
    with pytest.raises(KeyFileError, match="does not match"):
        init_keys(keys_dir)
    (keys_dir / SIGNING_PUB).unlink()            # the fix the message names
    assert init_keys(keys_dir) == [SIGNING_PUB]
    Store(tmp_path / "kiosk.db", keys_dir).close()


def test_garbage_signing_pub_is_refused(tmp_path, keys_dir):
    (keys_dir / SIGNING_PUB).write_bytes(b"not a key\n")
    with pytest.raises(KeyFileError, match="not a PEM public key"):
        Store(tmp_path / "kiosk.db", keys_dir)


def test_keys_show_refuses_a_mismatched_pair(tmp_path, keys_dir, capsys):
    from kiosk.cli import main

    assert main(["keys", "show", "--dir", str(keys_dir)]) == 0
    init_keys(tmp_path / "other")
    (keys_dir / SIGNING_PUB).write_bytes((tmp_path / "other" / SIGNING_PUB).read_bytes())
    capsys.readouterr()
    assert main(["keys", "show", "--dir", str(keys_dir)]) == 1
    assert "does not match" in capsys.readouterr().err
