"""`kiosk person edit/suspend/reactivate/extend` on a real database, as an operator would type them."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.recognition.observations import PersonInfo
from kiosk.store import Store
from kiosk.store.clock import to_utc_iso, utc_now


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nid = "door-1"\nstate_dir = "{tmp_path / "state"}"\ntimezone = "Europe/Berlin"\n')
    assert main(["keys", "init", "--config", str(path)]) == 0
    assert main(["person", "add", "--config", str(path), "--employee-no", "E7", "--name", "Ann Example"]) == 0
    assert main(["person", "add", "--config", str(path), "--employee-no", "V1", "--name", "Vic Visitor",
                 "--role", "visitor", "--valid-to", "2030-03-01"]) == 0
    return path


def run(capsys, config: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def person_updates(config: Path) -> list[dict]:
    with Store.open(load_config(config)) as store:
        assert store.verify_audit().ok
        return [{**r, "detail": json.loads(r["detail"])} for r in store.audit_records()
                if r["action"] == "person_update"]


def stored(config: Path, ref: str):
    with Store.open(load_config(config)) as store:
        return store.person(ref)


def test_a_plain_date_is_a_whole_day_in_the_device_time_zone(capsys, config):
    assert stored(config, "V1").valid_to == "2030-03-01T23:00:00.000000+00:00"   # end of 1 March in Berlin


def test_edit_changes_fields_and_audits_them_with_the_actor(capsys, config):
    code, out, _ = run(capsys, config, "person", "edit", "E7", "--name", "Ann Other", "--employee-no", "E8",
                       "--schedule", "staff", "--valid-from", "2026-06-01T08:00:00+02:00")
    assert code == 0 and out.startswith("updated Ann Other (E8): employee_no E8, name Ann Other, schedule staff")
    person = stored(config, "E8")
    assert (person.name, person.schedule, person.valid_from) == \
        ("Ann Other", "staff", "2026-06-01T06:00:00.000000+00:00")
    [record] = person_updates(config)
    assert record["actor"].startswith("cli") and record["outcome"] == "edited"
    assert record["person_id"] == person.person_id
    assert record["detail"] == {"fields": ["employee_no", "name", "schedule", "valid_from"], "schedule": "staff",
                                "valid_from": "2026-06-01T06:00:00.000000+00:00"}    # no name in the ledger
    assert run(capsys, config, "person", "edit", "E8", "--clear", "schedule", "--clear", "valid-from")[0] == 0
    assert (stored(config, "E8").schedule, stored(config, "E8").valid_from) == (None, None)


@pytest.mark.parametrize("argv, message", [
    (("E7",), "nothing to change"),
    (("E7", "--employee-no", "V1"), "employee number 'V1' is already enrolled"),
    (("E7", "--valid-to", "31.12.2026"), "--valid-to: '31.12.2026' is not a date or an ISO time (e.g. 2026-12-31"),
    (("E7", "--schedule", "nite"), "--schedule: schedule 'nite'"),
    (("V1", "--clear", "valid-to"), "a visitor needs valid_to"),
    (("E7", "--schedule", "staff", "--clear", "schedule"), "give --schedule or --clear schedule, not both"),
    (("E9", "--name", "X"), "no person with id or employee number 'E9'"),
])
def test_edit_refusals_are_one_line(capsys, config, argv, message):
    code, _, err = run(capsys, config, "person", "edit", *argv)
    assert code == 1 and err.count("\n") == 1 and message in err, err
    assert person_updates(config) == []


def test_suspend_and_reactivate(capsys, config):
    with Store.open(load_config(config)) as daemon_store:       # the daemon's handle, open throughout
        seen = daemon_store.version_high_water()
        code, out, _ = run(capsys, config, "person", "suspend", "E7", "--reason", "lost badge")
        assert code == 0 and "suspended Ann Example (E7): denied at the gate ('suspended')" in out
        # What the daemon does: it finds the change by version and reads the person at the next match.
        assert [p.employee_no for p in daemon_store.persons_changed_since(seen)] == ["E7"]
        person = daemon_store.person_by_id(daemon_store.person("E7").person_id)
        assert PersonInfo.from_record(person.person_id, person.record()).status == "suspended"
        code, _, err = run(capsys, config, "person", "suspend", "E7")
        assert code == 1 and "Ann Example (E7) is already suspended" in err
        assert run(capsys, config, "person", "reactivate", "E7")[0] == 0
        assert daemon_store.person("E7").status == "active"
    code, _, err = run(capsys, config, "person", "reactivate", "E7")
    assert code == 1 and "is already active" in err
    suspended, reactivated = person_updates(config)
    assert (suspended["outcome"], suspended["detail"]) == \
        ("suspended", {"fields": ["status"], "status": "suspended", "reason": "lost badge"})
    assert (reactivated["outcome"], reactivated["detail"]) == ("reactivated", {"fields": ["status"], "status": "active"})


def test_extend_by_days_or_until_a_date(capsys, config):
    code, out, _ = run(capsys, config, "person", "extend", "V1", "--days", "2")
    assert code == 0 and "valid until 2030-03-03T23:00:00.000000+00:00 (was 2030-03-01T23:00:00.000000+00:00)" in out
    assert run(capsys, config, "person", "extend", "V1", "--until", "2030-04-30T18:00:00+02:00")[0] == 0
    assert stored(config, "V1").valid_to == "2030-04-30T16:00:00.000000+00:00"
    assert [r["detail"]["valid_to"] for r in person_updates(config)] == \
        ["2030-03-03T23:00:00.000000+00:00", "2030-04-30T16:00:00.000000+00:00"]


@pytest.mark.parametrize("argv, message", [
    (("V1", "--until", "2030-02-01"), "--until: 2030-02-01 is not after the current end"),
    (("V1", "--until", "soon"), "--until: 'soon' is not a date or an ISO time (e.g. 2026-12-31"),
    (("V1", "--days", "0"), "--days must be positive"),
    (("E7", "--days", "3"), "Ann Example (E7) has no end of validity to extend"),
])
def test_extend_refusals(capsys, config, argv, message):
    code, _, err = run(capsys, config, "person", "extend", *argv)
    assert code == 1 and err.count("\n") == 1 and message in err, err


def test_an_expired_visitor_extended_from_now(capsys, config):
    with Store.open(load_config(config)) as store:
        store.update_person("V1", valid_to="2026-01-01T00:00:00+00:00")
    assert run(capsys, config, "person", "extend", "V1", "--days", "1")[0] == 0
    assert stored(config, "V1").valid_to > to_utc_iso(utc_now() + timedelta(hours=23))
