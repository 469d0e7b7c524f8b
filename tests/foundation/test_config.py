"""Configuration: defaults, validation errors that name the key, and the `kiosk config` commands."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk.config import ConfigError, KioskConfig, describe_keys, load_config, parse_config, to_toml


def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("text, names", [
    ("[camera]\nfsp = 15\n", ["camera.fsp", "unknown key", "fps"]),
    ("[nonsense]\na = 1\n", ["nonsense", "unknown key"]),
    ("[camera]\nwidth = \"wide\"\n", ["camera.width", "'wide'"]),
    ("[temperature]\nfever_threshold_c = 45.0\n", ["temperature.fever_threshold_c", "45.0", "less than or equal to 40"]),
    ("[mask]\npolicy = \"sometimes\"\n", ["mask.policy", "'require'", "'warn'"]),
    ("[mqtt]\nport = 0\n", ["mqtt.port", "greater than or equal to 1"]),
    ("[access]\nschedules = { staff = [\"weekdays 9-5\"] }\n", ["access.schedules", "weekdays 9-5"]),
    ("[device\n", ["not valid TOML"]),
])
def test_bad_config_exits_nonzero_with_one_line_naming_the_key(tmp_path, text, names):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    result = kiosk("config", "check", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0]
    assert str(path) in lines[0]


def test_missing_file_is_a_one_line_error(tmp_path):
    result = kiosk("config", "check", str(tmp_path / "absent.toml"))
    assert result.returncode == 2 and "cannot read" in result.stderr and result.stderr.count("\n") == 1


def test_good_file_passes_and_show_prints_the_effective_values(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[device]\nid = \"door-3\"\n[temperature]\nfever_threshold_c = 37.8\n")
    assert kiosk("config", "check", str(path)).returncode == 0
    shown = kiosk("config", "show", "--config", str(path))
    data = tomllib.loads(shown.stdout)
    assert data["device"]["id"] == "door-3"
    assert data["temperature"]["fever_threshold_c"] == 37.8
    assert data["recognition"]["security_level"] == "normal"  # defaults are filled in


def test_effective_config_round_trips():
    config = KioskConfig()
    assert parse_config(tomllib.loads(to_toml(config))) == config


def test_every_key_is_documented():
    rows = describe_keys()
    assert len(rows) > 80
    undocumented = [key for key, _, description in rows if not description]
    assert undocumented == []


def test_derived_paths_follow_state_dir(tmp_path):
    config = parse_config({"device": {"state_dir": str(tmp_path)}})
    assert config.database_path == tmp_path / "kiosk.db"
    assert config.models_dir == tmp_path / "models"
    assert config.keys_dir == tmp_path / "keys"


def test_several_problems_are_counted(tmp_path):
    with pytest.raises(ConfigError, match=r"and 1 more problem"):
        parse_config({"camera": {"fps": -1, "width": 1}})


def test_no_default_file_means_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr("kiosk.config.DEFAULT_PATH", tmp_path / "none.toml")
    assert load_config(None) == KioskConfig()


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["kiosk.toml", "kiosk-sim.toml"])
def test_shipped_config_files_are_valid(name):
    load_config(REPO / "etc" / name)


def test_readme_configuration_reference_is_current():
    from kiosk.config import reference_markdown

    readme = (REPO / "README.md").read_text()
    start = readme.index("<!-- config-reference:start")
    body = readme[readme.index("\n", start) + 1:readme.index("<!-- config-reference:end -->")]
    assert body == reference_markdown(), "regenerate with: kiosk config show --doc --markdown"
