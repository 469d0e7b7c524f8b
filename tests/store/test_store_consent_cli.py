"""`kiosk consent show/withdraw` on a real database, as an operator would type them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_helpers import consent_record, unit

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.store import Store


@pytest.fixture
def config(tmp_path: Path, rng) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nid = "door-1"\nstate_dir = "{tmp_path / "state"}"\n')
    assert main(["keys", "init", "--config", str(path)]) == 0
    with Store.open(load_config(path)) as store:
        for employee_no, scope in (("E7", ["local", "fleet"]), ("E8", ["local"])):
            person = store.add_person(employee_no=employee_no, name=f"Person {employee_no}", role="staff")
            store.enroll(person.person_id, list(unit(rng, 2)), model_id="m1", consent=consent_record(scope=scope))
        store.add_person(employee_no="E9", name="Not Enrolled", role="staff")
    return path


def run(capsys, config: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def audit(config: Path) -> list[dict]:
    with Store.open(load_config(config)) as store:
        assert store.verify_audit().ok
        return store.audit_records()


def test_show_prints_the_record_and_is_audited_as_a_view(capsys, config):
    code, out, _ = run(capsys, config, "consent", "show", "E7")
    assert code == 0
    for line in ("given by            Ann Example", "given at            2026-01-05T08:30:00.000000+00:00",
                 "notice version      v1", "how                 signed paper form", "scope               local, fleet",
                 "fleet               shared with the site's other kiosks"):
        assert line in out, out
    record = audit(config)[-1]
    assert (record["action"], record["actor"][:3], json.loads(record["detail"])) == ("view", "cli", {"what": "consent"})
    code, out, _ = run(capsys, config, "consent", "show", "E8", "--json")
    assert code == 0 and [c["scope"] for c in json.loads(out)["consents"]] == [["local"]]
    code, out, _ = run(capsys, config, "consent", "show", "E9")
    assert code == 0 and "none (no face data can be enrolled)" in out


def test_withdraw_fleet_keeps_the_local_enrollment(capsys, config):
    code, out, _ = run(capsys, config, "consent", "withdraw", "E7", "--scope", "fleet", "--reason", "by email")
    assert code == 0 and "withdrew fleet sharing of Person E7 (E7): consent scope now local; this kiosk keeps" in out
    assert "fleet sync is off in this configuration" in out
    with Store.open(load_config(config)) as store:
        person = store.person("E7")
        assert len(store.templates(person.person_id)) == 2
        assert store.export_person_record(person.person_id)["deleted"] is True
    withdrawal = next(r for r in audit(config) if r["action"] == "consent_withdraw")
    assert withdrawal["actor"].startswith("cli") and json.loads(withdrawal["detail"])["reason"] == "by email"
    code, out, _ = run(capsys, config, "consent", "show", "E7")
    assert "scope               local\n" in out and "fleet               withdrawn" in out and "earlier" in out
    code, _, err = run(capsys, config, "consent", "withdraw", "E7", "--scope", "fleet")
    assert code == 1 and "does not include 'fleet': nothing to withdraw" in err


def test_withdraw_all_erases_like_person_delete(capsys, config):
    code, _, err = run(capsys, config, "consent", "withdraw", "E8")
    assert code == 1 and "cannot be undone; add --yes" in err and err.count("\n") == 1
    code, out, _ = run(capsys, config, "consent", "withdraw", "E8", "--yes", "--reason", "letter of 3 Dec")
    assert code == 0 and "erased Person E8 (E8): consent withdrawn; 2 template(s)" in out
    erasure = audit(config)[-1]
    assert (erasure["action"], erasure["outcome"]) == ("delete", "erased")
    assert json.loads(erasure["detail"]) == {"templates": 2, "images": 0, "consents": 1,
                                             "reason": "consent withdrawn: letter of 3 Dec"}
    code, _, err = run(capsys, config, "consent", "show", "E8")
    assert code == 1 and "no person with id or employee number 'E8'" in err


def test_withdraw_without_a_consent_points_to_person_delete(capsys, config):
    code, _, err = run(capsys, config, "consent", "withdraw", "E9", "--yes")
    assert code == 1 and "has no consent record" in err and "kiosk person delete E9 --yes" in err
