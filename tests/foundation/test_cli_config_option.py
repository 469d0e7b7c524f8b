"""Which configuration file a command uses: --config after the command > --config before it > $KIOSK_CONFIG >
/etc/kiosk/kiosk.toml; `config check` follows the same rule and still takes the old positional PATH."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import CONFIG_ENV, config_path, main


def _config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[device]\nid = "{name}"\nstate_dir = "{tmp_path / name}"\n')
    return path


@pytest.fixture
def files(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    return {name: _config(tmp_path, name) for name in ("after", "before", "env")}


def _device_id(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    out = capsys.readouterr().out
    return next(line for line in out.splitlines() if line.startswith("id = ")).split('"')[1]


def test_precedence_after_before_env(capsys, files, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, str(files["env"]))
    assert _device_id(capsys, "config", "show") == "env"
    assert _device_id(capsys, "--config", str(files["before"]), "config", "show") == "before"
    assert _device_id(capsys, f"--config={files['before']}", "config", "show") == "before"
    assert _device_id(capsys, "--config", str(files["before"]), "config", "show", "--config", str(files["after"])) \
        == "after"


def test_without_anything_the_default_path_is_left_to_load_config():
    assert config_path(None, None, {}) is None
    assert config_path(None, None, {CONFIG_ENV: ""}) is None
    assert config_path(None, None, {CONFIG_ENV: "/x.toml"}) == Path("/x.toml")


def test_global_option_reaches_store_commands(capsys, files):
    assert main(["--config", str(files["before"]), "keys", "init"]) == 0
    assert main(["--config", str(files["before"]), "person", "add", "--employee-no", "E1", "--name", "Ann"]) == 0
    capsys.readouterr()
    assert main(["--config", str(files["before"]), "person", "list"]) == 0
    assert "1 person(s)" in capsys.readouterr().out
    assert (files["before"].parent / "before" / "kiosk.db").exists()
    assert not (files["after"].parent / "after").exists()


def test_config_check_takes_the_same_option_and_the_old_path(capsys, files, monkeypatch, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nfsp = 15\n")
    for argv in (["config", "check", "--config", str(files["after"])],
                 ["--config", str(files["after"]), "config", "check"],
                 ["config", "check", str(files["after"])]):
        assert main(argv) == 0
        assert capsys.readouterr().out == f"{files['after']}: OK\n"
    monkeypatch.setenv(CONFIG_ENV, str(bad))
    assert main(["config", "check"]) == 2
    assert "camera.fsp" in capsys.readouterr().err
    assert main(["config", "check", "--config", str(files["env"])]) == 0


def test_two_word_commands_after_the_global_option(capsys, files):
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(files["before"]), "eval", "open-set", "--help"])
    assert exit_.value.code == 0 and "usage: kiosk eval open-set" in capsys.readouterr().out
