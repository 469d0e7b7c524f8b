"""Templates at rest: a database copied without its key gives nothing away; rows cannot be swapped."""
from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
from store_helpers import consent_record, unit

from kiosk.store import KeyFileError, Store, TemplateKeyError, init_keys
from kiosk.store.keys import TEMPLATE_KEY


@pytest.fixture
def enrolled(store, rng):
    vectors = unit(rng, 3)
    person = store.add_person(employee_no="E1", name="Ann", role="staff")
    store.enroll(person.person_id, list(vectors), model_id="m1", consent=consent_record(),
                 images=[(b"JPEG-BYTES-OF-ANN", "image/jpeg")])
    store._db.checkpoint()
    return person, vectors


def test_plaintext_never_reaches_the_file(store, enrolled):
    _, vectors = enrolled
    raw = store.path.read_bytes()
    for vector in vectors:
        assert vector.astype("<f4").tobytes()[:16] not in raw
    assert b"JPEG-BYTES-OF-ANN" not in raw


def test_copied_database_without_the_key_yields_no_embeddings(tmp_path, store, enrolled):
    copy = tmp_path / "stolen" / "kiosk.db"
    copy.parent.mkdir()
    store._db.checkpoint()
    shutil.copy(store.path, copy)
    init_keys(tmp_path / "other-keys")
    with pytest.raises(TemplateKeyError, match="not the key"):
        Store(copy, tmp_path / "other-keys")
    # Past the key check, every ciphertext still fails authentication under another key.
    ciphertexts = sqlite3.connect(copy).execute("SELECT nonce, ciphertext FROM templates").fetchall()
    assert len(ciphertexts) == 3 and all(len(ct) == 128 * 4 + 16 for _, ct in ciphertexts)
    from kiosk.store.cipher import Cipher
    from kiosk.store.keys import read_secret

    wrong = Cipher(read_secret(tmp_path / "other-keys", TEMPLATE_KEY))
    for nonce, ciphertext in ciphertexts:
        with pytest.raises(TemplateKeyError):
            wrong.decrypt(nonce, ciphertext, b"anything")


def test_copy_with_the_key_still_opens(tmp_path, store, enrolled, keys_dir):
    _, vectors = enrolled
    copy = tmp_path / "backup.db"
    store._db.checkpoint()
    shutil.copy(store.path, copy)
    with Store(copy, keys_dir) as restored:
        _, _, matrix = restored.load_templates("m1")
    assert np.allclose(np.sort(matrix, axis=0), np.sort(vectors, axis=0))


def test_ciphertext_moved_to_another_person_fails(store, enrolled, rng):
    person, _ = enrolled
    bob = store.add_person(employee_no="E2", name="Bob", role="staff")
    store.enroll(bob.person_id, list(unit(rng)), model_id="m1", consent=consent_record(given_by="Bob"))
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE templates SET person_id = ? WHERE person_id = ?", [bob.person_id, person.person_id])
    conn.commit()
    conn.close()
    with pytest.raises(TemplateKeyError, match="altered or moved"):
        store.load_templates("m1")


def test_database_file_is_owner_only(store, enrolled):
    for path in (store.path, store.path.with_name(store.path.name + "-wal")):
        assert path.stat().st_mode & 0o077 == 0, path


def test_key_files_are_private_and_never_overwritten(tmp_path, keys_dir):
    before = {p.name: p.read_bytes() for p in keys_dir.iterdir() if p.is_file()}
    assert init_keys(keys_dir) == []
    assert {p.name: p.read_bytes() for p in keys_dir.iterdir() if p.is_file()} == before
    assert keys_dir.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in keys_dir.iterdir() if p.is_file())
    (keys_dir / TEMPLATE_KEY).chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        Store(tmp_path / "x.db", keys_dir)


def test_key_supplied_by_the_system(tmp_path, keys_dir, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / TEMPLATE_KEY).write_bytes(b"k" * 32)
    (credentials / TEMPLATE_KEY).chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    Store(tmp_path / "cred.db", keys_dir).close()
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(TemplateKeyError):       # the file key is not the one the database was made with
        Store(tmp_path / "cred.db", keys_dir)


def test_short_key_is_refused(tmp_path, keys_dir):
    path = keys_dir / TEMPLATE_KEY
    path.chmod(0o600)
    path.write_bytes(b"short")
    with pytest.raises(KeyFileError, match="5 bytes"):
        Store(tmp_path / "y.db", keys_dir)


def test_a_file_that_is_not_a_database_gives_one_line(tmp_path, keys_dir):
    from kiosk.store import StoreError

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="bad.db: .*not a database"):
        Store(bad, keys_dir)
