"""The store's commands, run in-process as an operator would type them."""
from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.store import Store


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nid = "door-1"\nstate_dir = "{tmp_path / "state"}"\n')
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_init_then_nothing_to_do(capsys, config, tmp_path):
    code, out, _ = run(capsys, "keys", "init", "--config", str(config), "--dir", str(tmp_path / "k"))
    assert code == 0 and "template.key, fleet.key, signing.key, signing.pub" in out
    code, out, _ = run(capsys, "keys", "init", "--config", str(config), "--dir", str(tmp_path / "k"))
    assert code == 0 and "nothing changed" in out
    code, out, _ = run(capsys, "keys", "show", "--config", str(config), "--dir", str(tmp_path / "k"))
    assert code == 0 and "BEGIN PUBLIC KEY" in out


def test_missing_keys_give_one_line(capsys, config):
    code, _, err = run(capsys, "person", "list", "--config", str(config))
    assert code == 1 and err.count("\n") == 1 and "kiosk keys init --dir" in err


def test_person_lifecycle_and_audit(capsys, config):
    C = ("--config", str(config))
    assert run(capsys, "keys", "init", *C)[0] == 0
    code, out, _ = run(capsys, "person", "add", *C, "--employee-no", "E7", "--name", "Ann Example")
    assert code == 0 and "added Ann Example (E7, staff)" in out
    code, _, err = run(capsys, "person", "add", *C, "--employee-no", "V1", "--name", "Vic", "--role", "visitor")
    assert code == 1 and "visitor needs valid_to" in err
    assert run(capsys, "person", "add", *C, "--employee-no", "V1", "--name", "Vic", "--role", "visitor",
               "--valid-days", "2")[0] == 0
    code, out, _ = run(capsys, "person", "list", *C, "--json")
    assert code == 0 and {p["employee_no"] for p in json.loads(out)} == {"E7", "V1"}
    code, out, _ = run(capsys, "person", "show", *C, "E7")
    assert code == 0 and "consent             none" in out
    code, _, err = run(capsys, "person", "show", *C, "E8")
    assert code == 1 and "no person with id or employee number 'E8'" in err
    code, _, err = run(capsys, "person", "delete", *C, "E7")
    assert code == 1 and "--yes" in err
    code, out, _ = run(capsys, "person", "delete", *C, "E7", "--yes")
    assert code == 0 and "erased Ann Example (E7)" in out
    code, out, _ = run(capsys, "audit", "verify", *C)
    assert code == 0 and out.startswith("audit ledger OK: 5 records")
    head = out.split()[-1]

    export = config.parent / "audit.csv"
    assert run(capsys, "audit", "export", *C, "--format", "csv", "--out", str(export))[0] == 0
    assert export.read_text().startswith("seq,at,action")
    code, out, _ = run(capsys, "audit", "verify", *C, "--file", str(export))
    assert code == 0 and "OK: 5 records" in out

    conn = sqlite3.connect(load_config(config).database_path)
    conn.execute("DROP TRIGGER audit_append_only")
    conn.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 3")
    conn.commit()
    conn.close()
    code, out, _ = run(capsys, "audit", "verify", *C)
    assert code == 1 and "BROKEN at record #3 (position 3)" in out and "edited" in out
    code, out, _ = run(capsys, "audit", "verify", *C, "--file", str(export))
    assert code == 0                                   # the export taken before the edit still verifies

    conn = sqlite3.connect(load_config(config).database_path)
    conn.execute("DELETE FROM audit WHERE seq >= 3")
    conn.commit()
    conn.close()
    code, out, _ = run(capsys, "audit", "verify", *C)
    assert code == 1 and "the newest 4 records were removed" in out     # the signed head file shows it
    code, out, _ = run(capsys, "audit", "verify", *C, "--expect-head", head)
    assert code == 1


def test_audit_verify_exit_codes(capsys, config, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    C = ("--config", str(config))
    assert run(capsys, "keys", "init", *C)[0] == 0
    code, out, _ = run(capsys, "audit", "verify", *C)
    assert code == 0 and out == "audit ledger OK: 0 records, head #0 " + "0" * 64 + "\n"
    for number in range(3):
        assert run(capsys, "person", "add", *C, "--employee-no", f"E{number}", "--name", "Ann")[0] == 0
    code, out, _ = run(capsys, "audit", "verify", *C)
    assert code == 0 and out.startswith("audit ledger OK: 3 records, signed head #3, head #3 ")

    other = tmp_path / "other.pub"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    code, out, _ = run(capsys, "audit", "verify", *C, "--public-key", str(other))
    assert code == 1 and "BROKEN at record #1" in out and "does not verify" in out
    code, _, err = run(capsys, "audit", "verify", *C, "--public-key", str(tmp_path / "missing.pub"))
    assert code == 1 and err == f"kiosk: {tmp_path / 'missing.pub'} not found\n"

    export = tmp_path / "audit.json"
    assert run(capsys, "audit", "export", *C, "--out", str(export))[0] == 0
    assert run(capsys, "audit", "verify", *C, "--file", str(export))[0] == 0
    export.write_text(export.read_text().replace('"cli:', '"cli:x', 1))
    code, out, _ = run(capsys, "audit", "verify", *C, "--file", str(export))
    assert code == 1 and "BROKEN at record #1" in out
    code, _, err = run(capsys, "audit", "verify", *C, "--file", str(tmp_path / "none.json"))
    assert code == 1 and "none.json" in err

    conn = sqlite3.connect(load_config(config).database_path)
    conn.execute("DELETE FROM audit")
    conn.commit()
    conn.close()
    code, out, _ = run(capsys, "audit", "verify", *C)
    assert code == 1 and "the ledger is empty, but the signed head says record #4 was written" in out

    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\naudit_head = 5\n")
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "audit", "verify", "--config", str(bad))
    assert exit_.value.code == 2 and "store.audit_head = 5" in capsys.readouterr().err


def test_enroll_refused_without_consent(capsys, config, tmp_path):
    assert run(capsys, "keys", "init", "--config", str(config))[0] == 0
    image = tmp_path / "face.jpg"
    image.write_bytes(b"x")
    code, _, err = run(capsys, "enroll", "--config", str(config), "--employee-no", "E1", "--name", "Ann", str(image))
    assert code == 1 and err == ("kiosk: enrollment refused: no consent record; give --consent-given-by and "
                                 "--consent-method, or --consent-file\n")
    code, _, err = run(capsys, "enroll", "--config", str(config), "--employee-no", "E1", "--name", "Ann", str(image),
                       "--consent-given-by", "Ann", "--consent-method", "form", "--consent-minor")
    assert code == 1 and err == "kiosk: consent: a minor's consent needs the guardian who gave it\n"
    code, _, err = run(capsys, "enroll", "--config", str(config), str(image))
    assert code == 1 and "say who" in err


def test_events_list_export_verify(capsys, config, tmp_path):
    C = ("--config", str(config))
    assert run(capsys, "keys", "init", *C)[0] == 0
    with Store.open(load_config(config)) as store:
        for hour in range(3):
            store.record_event({"type": "attendance", "event_id": uuid.uuid4().hex, "device_id": "door-1",
                                "device_time": f"2026-11-28T0{hour + 7}:00:00+00:00", "person": None,
                                "attendance": {"direction": "in"}})
    code, out, _ = run(capsys, "events", "list", *C, "--from", "2026-11-28T08:00:00+00:00")
    assert code == 0 and out.strip().endswith("2 event(s)")
    code, _, err = run(capsys, "events", "list", *C, "--from", "monday")
    assert code == 1 and err.count("\n") == 1 and "--from: 'monday' is not a date or an ISO time (e.g. 2026-12-31" in err
    code, out, _ = run(capsys, "events", "list", *C, "--from", "2026-11-28", "--to", "2026-11-28")   # device tz: UTC
    assert code == 0 and out.strip().endswith("3 event(s)")
    code, out, _ = run(capsys, "events", "list", *C, "--from", "2026-11-28T08:30", "--to", "2026-11-29")
    assert code == 0 and out.strip().endswith("1 event(s)")
    code, out, _ = run(capsys, "events", "list", *C, "--to", "2026-11-27")
    assert code == 0 and out.strip().endswith("0 event(s)")
    exported = tmp_path / "events.jsonl"
    assert run(capsys, "events", "export", *C, "--out", str(exported))[0] == 0
    code, out, _ = run(capsys, "events", "verify", *C, str(exported))
    assert code == 0 and "3 event(s): 3 valid, 0 invalid" in out
    lines = exported.read_text().splitlines()
    lines[1] = lines[1].replace('"direction": "in"', '"direction": "out"')
    exported.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "events", "verify", *C, str(exported))
    assert code == 1 and "event 2" in out and "INVALID" in out and "1 invalid" in out
    exported.write_text("{not json\n")
    code, _, err = run(capsys, "events", "verify", *C, str(exported))
    assert code == 1 and "line 1: not JSON" in err
