"""`kiosk backup` then `kiosk restore` into a fresh state directory: the same persons, templates, events and a
verifying audit chain; a wrong passphrase, a changed byte or existing state restore nothing."""
from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import numpy as np
import pytest
from store_helpers import consent_record, unit

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.store import Store, init_keys

PASSPHRASE = "correct horse battery staple"


def _config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[device]\nid = "door-1"\nstate_dir = "{tmp_path / name}"\n')
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def passfile(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def source(tmp_path: Path, rng) -> Path:
    """A kiosk state with enrolled, erased and template-less persons, events, calibration, attendance and a
    trusted key; its store stays open during the backup, like a running daemon's (uncheckpointed WAL)."""
    config_path = _config(tmp_path, "old")
    config = load_config(config_path)
    init_keys(config.keys_dir)
    (config.trusted_keys_dir / "hr.pem").write_bytes((config.keys_dir / "signing.pub").read_bytes())
    config.calibration_path.write_text('{"calibration": "as fitted"}\n')
    (config.state_dir / "attendance.json").write_text('{"last": {}}\n')
    store = Store.open(config)
    for i, name in enumerate(["Ann", "Bo", "Cy"]):
        person = store.add_person(employee_no=f"E{i}", name=name, role="staff")
        store.enroll(person.person_id, list(unit(rng, 3)), model_id="m1", consent=consent_record(), qualities=[0.9] * 3)
        store.record_event({"type": "attendance", "event_id": uuid.uuid4().hex, "device_id": "door-1",
                            "device_time": f"2026-12-0{i + 1}T08:00:00+01:00",
                            "person": {"person_id": person.person_id, "employee_no": person.employee_no},
                            "attendance": {"direction": "in"}})
    store.delete_person("E2", actor="test")
    store.add_person(employee_no="V1", name="Vic", role="visitor", valid_to="2027-01-01T00:00:00+00:00")
    yield config_path
    store.close()


def _snapshot(config_path: Path) -> dict:
    with Store.open(load_config(config_path)) as store:
        persons = store.persons(include_deleted=True)
        return {"persons": sorted((p.as_dict() for p in persons), key=lambda p: p["person_id"]),
                "templates": {p.person_id: store.load_templates("m1", [p.person_id]) for p in persons},
                "events": store.events(),
                "audit": store.audit_records()}


def _files(state: Path) -> list[Path]:
    return sorted(p for p in state.rglob("*")) if state.exists() else []


def test_backup_then_restore_gives_the_same_state(capsys, tmp_path, source, passfile):
    archive = tmp_path / "backups" / "door-1.kbk"
    code, out, _ = _run(capsys, "backup", "--config", str(source), "--out", str(archive),
                        "--passphrase-file", str(passfile))
    assert code == 0 and "persons 3 (erased 1), templates 6" in out and "not included: the models" in out
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert b"Ann" not in archive.read_bytes() and b"PRIVATE KEY" not in archive.read_bytes()

    fresh = _config(tmp_path, "new")
    code, out, err = _run(capsys, "restore", str(archive), "--config", str(fresh), "--passphrase-file", str(passfile))
    assert code == 0, err
    assert "database integrity ok" in out and "signing key pair matches" in out and "audit ledger OK" in out
    assert out.rstrip().endswith("restore OK")

    before, after = _snapshot(source), _snapshot(fresh)
    assert after["persons"] == before["persons"] and len(after["persons"]) == 4
    assert after["events"] == before["events"] and len(after["events"]) == 3
    for person_id, (template_ids, _, matrix) in before["templates"].items():
        restored_ids, _, restored = after["templates"][person_id]
        assert restored_ids == template_ids and np.array_equal(restored, matrix)
    assert sum(len(ids) for ids, _, _ in after["templates"].values()) == 6
    assert after["audit"] == before["audit"] and after["audit"][-1]["action"] == "export"   # the backup itself
    assert _run(capsys, "audit", "verify", "--config", str(fresh))[0] == 0

    new = load_config(fresh)
    assert new.calibration_path.read_text() == '{"calibration": "as fitted"}\n'
    assert (new.state_dir / "attendance.json").read_text() == '{"last": {}}\n'
    assert (new.trusted_keys_dir / "hr.pem").read_bytes() == (new.keys_dir / "signing.pub").read_bytes()
    for path in _files(new.state_dir):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_wrong_passphrase_restores_nothing(capsys, tmp_path, source, passfile):
    archive = tmp_path / "b.kbk"
    assert _run(capsys, "backup", "--config", str(source), "--out", str(archive), "--passphrase-file", str(passfile))[0] == 0
    wrong = tmp_path / "wrong"
    wrong.write_text("correct horse battery stable\n")
    fresh = _config(tmp_path, "new")
    code, out, err = _run(capsys, "restore", str(archive), "--config", str(fresh), "--passphrase-file", str(wrong))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "wrong passphrase" in err and "nothing restored" in err
    assert _files(tmp_path / "new") == []


# Header: magic 0-11, version 12, scrypt 13-15, salt 16-31, passphrase check 32-47, nonce 48-59; then the ciphertext.
@pytest.mark.parametrize(("where", "message"), [
    (lambda n: 20, "wrong passphrase (or the archive header was altered)"),        # the salt
    (lambda n: 50, "damaged or was altered"),                                       # the nonce
    (lambda n: n // 2, "damaged or was altered"),                                   # the payload
    (lambda n: n - 1, "damaged or was altered"),                                    # the tag
], ids=["salt", "nonce", "payload", "tag"])
def test_a_changed_byte_restores_nothing(capsys, tmp_path, source, passfile, where, message):
    archive = tmp_path / "b.kbk"
    assert _run(capsys, "backup", "--config", str(source), "--out", str(archive), "--passphrase-file", str(passfile))[0] == 0
    data = bytearray(archive.read_bytes())
    data[where(len(data))] ^= 0x01
    archive.write_bytes(bytes(data))
    fresh = _config(tmp_path, "new")
    code, _, err = _run(capsys, "restore", str(archive), "--config", str(fresh), "--passphrase-file", str(passfile))
    assert code == 1 and err.count("\n") == 1 and message in err and "nothing restored" in err
    assert _files(tmp_path / "new") == []


def test_restore_refuses_existing_state_unless_forced(capsys, tmp_path, source, passfile):
    archive = tmp_path / "b.kbk"
    assert _run(capsys, "backup", "--config", str(source), "--out", str(archive), "--passphrase-file", str(passfile))[0] == 0
    fresh = _config(tmp_path, "new")
    config = load_config(fresh)
    init_keys(config.keys_dir)
    with Store.open(config) as other:          # another kiosk's state: its own keys, people and ledger
        other.add_person(employee_no="X9", name="Other", role="staff")
    code, _, err = _run(capsys, "restore", str(archive), "--config", str(fresh), "--passphrase-file", str(passfile))
    assert code == 1 and "does not overwrite existing state" in err and "--force" in err
    with Store.open(config) as other:
        assert [p.employee_no for p in other.persons()] == ["X9"]

    config.database_path.with_name("kiosk.db-wal").write_bytes(b"stale WAL of the replaced database")
    code, out, err = _run(capsys, "restore", str(archive), "--config", str(fresh), "--passphrase-file", str(passfile),
                          "--force")
    assert code == 0 and "restore OK" in out, err
    assert not config.database_path.with_name("kiosk.db-wal").exists()
    assert _snapshot(fresh)["persons"] == _snapshot(source)["persons"]
    assert _run(capsys, "audit", "verify", "--config", str(fresh))[0] == 0


def test_short_or_missing_passphrase_and_missing_database_are_refused(capsys, tmp_path, source, passfile):
    short = tmp_path / "short"
    short.write_text("secret\n")
    code, _, err = _run(capsys, "backup", "--config", str(source), "--out", str(tmp_path / "b.kbk"),
                        "--passphrase-file", str(short))
    assert code == 1 and "shorter than 10 characters" in err and not (tmp_path / "b.kbk").exists()
    code, _, err = _run(capsys, "backup", "--config", str(source), "--out", str(tmp_path / "b.kbk"))
    assert code == 1 and "give --passphrase-file FILE" in err          # no terminal under pytest: never guessed
    empty = _config(tmp_path, "empty")
    code, _, err = _run(capsys, "backup", "--config", str(empty), "--out", str(tmp_path / "b.kbk"),
                        "--passphrase-file", str(passfile))
    assert code == 1 and err.count("\n") == 1 and "no database, nothing to back up" in err


def test_manifest_lists_what_the_archive_holds(tmp_path, source):
    from kiosk.backup import collect
    from kiosk.backup.archive import unpack, unseal

    backup = collect(load_config(source), PASSPHRASE, actor="test")
    members = unpack(unseal(backup.sealed, PASSPHRASE))
    manifest = json.loads(members["manifest.json"])
    assert manifest == backup.manifest and manifest["device_id"] == "door-1"
    assert sorted(members) == sorted([*manifest["members"], "manifest.json"])
    assert set(manifest["members"]) == {"kiosk.db", "audit-head.json", "calibration.json", "attendance.json",
                                        "keys/template.key", "keys/fleet.key", "keys/signing.key", "keys/signing.pub",
                                        "trusted/hr.pem"}
    assert not any(name.startswith("models") for name in members)


def _other_public_key(tmp_path: Path) -> bytes:
    init_keys(tmp_path / "other-keys")
    return (tmp_path / "other-keys" / "signing.pub").read_bytes()


def _truncated_database(db: bytes) -> bytes:
    return db[: len(db) // 2]


@pytest.mark.parametrize(("member", "change", "message"), [
    ("keys/signing.pub", lambda tmp, old: _other_public_key(tmp), "not the public half of the signing key"),
    ("kiosk.db", lambda tmp, old: _truncated_database(old), "database integrity check failed"),
    ("audit-head.json", lambda tmp, old: old.replace(b'"seq": ', b'"seq": 1'), "audit ledger BROKEN"),
], ids=["key-pair", "database", "audit-head"])
def test_a_backup_failing_its_checks_restores_nothing(tmp_path, source, member, change, message):
    from kiosk.backup import BackupError, collect, restore
    from kiosk.backup.archive import pack, seal, unpack, unseal

    members = unpack(unseal(collect(load_config(source), PASSPHRASE, actor="test").sealed, PASSPHRASE))
    members[member] = change(tmp_path, members[member])
    fresh = load_config(_config(tmp_path, "new"))
    with pytest.raises(BackupError, match=message):
        restore(fresh, seal(pack(members, 0), PASSPHRASE), PASSPHRASE)
    assert [p for p in _files(fresh.state_dir)] == []


def test_an_emptied_database_is_refused_until_restored_from_a_backup(capsys, tmp_path, source, passfile):
    """The tester's case: kiosk.db zeroed after use. Refused with one line naming `kiosk restore`; the restore
    brings everything back and points the state marker at the restored file."""
    archive = tmp_path / "b.kbk"
    assert _run(capsys, "backup", "--config", str(source), "--out", str(archive), "--passphrase-file", str(passfile))[0] == 0
    before = _snapshot(source)
    config = load_config(source)
    for suffix in ("-wal", "-shm"):
        config.database_path.with_name(config.database_path.name + suffix).unlink(missing_ok=True)
    config.database_path.write_bytes(b"")
    code, _, err = _run(capsys, "events", "list", "--config", str(source))
    assert code == 1 and "is empty (0 bytes)" in err and "kiosk restore --force ARCHIVE" in err
    code, out, err = _run(capsys, "restore", str(archive), "--config", str(source), "--passphrase-file", str(passfile),
                          "--force")
    assert code == 0 and "restore OK" in out, err
    assert _snapshot(source)["events"] == before["events"]
    assert _run(capsys, "audit", "verify", "--config", str(source))[0] == 0


def test_a_restore_of_another_kiosks_backup_points_the_marker_at_it(capsys, tmp_path, source, passfile):
    archive = tmp_path / "b.kbk"
    assert _run(capsys, "backup", "--config", str(source), "--out", str(archive), "--passphrase-file", str(passfile))[0] == 0
    fresh = _config(tmp_path, "new")
    config = load_config(fresh)
    init_keys(config.keys_dir)
    Store.open(config).close()                  # this kiosk's own database and state marker
    mine = json.loads(config.database_path.with_suffix(".state.json").read_text())["database_id"]
    code, out, err = _run(capsys, "restore", str(archive), "--config", str(fresh), "--passphrase-file", str(passfile),
                          "--force")
    assert code == 0, err
    marker = json.loads(config.database_path.with_suffix(".state.json").read_text())
    assert marker["database_id"] != mine
    with Store.open(config) as store:           # opens: the marker names the restored database
        assert len(store.events()) == 3
