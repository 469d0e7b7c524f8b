"""`kiosk admin add-user/list-users/remove-user`: the password from stdin (never argv), audited."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.store import Store
from kiosk.web.admin.accounts import Accounts


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n')
    assert main(["keys", "init", "--config", str(path)]) == 0
    return path


def run(capsys, monkeypatch, config: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main(["admin", *argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_remove(capsys, monkeypatch, config: Path) -> None:
    code, out, _ = run(capsys, monkeypatch, config, "add-user", "root", "--role", "admin",
                       stdin="correct horse battery\n")
    assert code == 0 and out.startswith("added console account root (admin)")
    accounts = Accounts.in_state_dir(load_config(config).state_dir)
    assert accounts.authenticate("root", "correct horse battery") is not None
    code, out, _ = run(capsys, monkeypatch, config, "list-users")
    assert code == 0 and "root" in out and "admin" in out and "1 account(s)" in out
    code, out, _ = run(capsys, monkeypatch, config, "remove-user", "root")
    assert code == 0 and "removed console account root" in out
    assert accounts.all() == []
    with Store.open(load_config(config)) as store:
        records = [r for r in store.audit_records() if r["action"] == "account"]
        assert store.verify_audit().ok
    assert [(r["outcome"], r["actor"].startswith("cli")) for r in records] == [("added", True), ("removed", True)]
    assert "correct horse" not in str(records)


@pytest.mark.parametrize(("argv", "stdin", "error"), [
    (["add-user", "Root", "--role", "admin"], "correct horse battery\n", "not an account name"),
    (["add-user", "root", "--role", "admin"], "short\n", "at least 10 characters"),
    (["add-user", "root", "--role", "admin"], "", "no password on stdin"),
    (["remove-user", "nobody"], "", "no account 'nobody'"),
])
def test_bad_input_is_one_line(capsys, monkeypatch, config: Path, argv, stdin, error) -> None:
    code, _, err = run(capsys, monkeypatch, config, *argv, stdin=stdin)
    assert code == 1 and error in err and err.count("\n") == 1


def test_a_duplicate_name_is_refused_before_asking_for_the_password(capsys, monkeypatch, config: Path) -> None:
    assert run(capsys, monkeypatch, config, "add-user", "root", "--role", "hr", stdin="correct horse battery\n")[0] == 0
    code, _, err = run(capsys, monkeypatch, config, "add-user", "root", "--role", "admin")
    assert code == 1 and "exists already" in err


def test_the_password_is_not_an_argument() -> None:
    from kiosk.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["admin", "add-user", "root", "--role", "admin", "--password", "x"])
