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


@pytest.mark.parametrize("text, names", [
    ('[device]\ntimezone = "Europe/Berln"\n', ["device.timezone", "'Europe/Berln'", "unknown time zone",
                                               "did you mean 'Europe/Berlin'"]),
    ('[temperature]\nfever_threshold_c = "37.5"\n', ["temperature.fever_threshold_c", "'37.5'", "not a string"]),
    ('[mqtt]\nport = 8883.0\n', ["mqtt.port", "whole number"]),
    ('[mqtt]\ntls = "yes"\n', ["mqtt.tls", "true or false"]),
    ('[temperature]\nsensor_offset_mm = ["30", 0, 0]\n', ["temperature.sensor_offset_mm", "not a string"]),
    ('[mqtt]\nenabled = true\npassword_file = "/nonexistent/kiosk.pw"\n', ["mqtt.password_file", "no such file"]),
    ('[mqtt]\nenabled = true\ntls = true\nca_file = "/"\n', ["mqtt.ca_file", "not a file"]),
])
def test_config_check_names_what_would_fail_later(tmp_path, text, names):
    """Each of these passed `config check` before and failed only in service (the first verdict, endless
    MQTT retries) or was silently converted."""
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    for name in names:
        assert name in str(raised.value)


def test_numbers_stay_lenient_where_toml_is(tmp_path):
    """An integer is a fine float; files are only checked when MQTT is on."""
    config = parse_config({"temperature": {"fever_threshold_c": 38, "sensor_offset_mm": [30, 0, 0]},
                           "mqtt": {"ca_file": "/nonexistent/ca.pem"}, "device": {"timezone": "Europe/Berlin"}})
    assert config.temperature.fever_threshold_c == 38.0 and config.temperature.sensor_offset_mm == (30.0, 0.0, 0.0)
    password = tmp_path / "pw"
    password.write_text("s3cret\n")
    mqtt = {"enabled": True, "password_file": str(password), "accept_commands": False}
    assert parse_config({"mqtt": mqtt}).mqtt.password_file == password


def test_config_check_names_schedules_enrolled_persons_lack(tmp_path):
    from kiosk.store import Store, init_keys

    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nstate_dir = "{tmp_path}"\n[access.schedules]\nstaff = ["mon-sun 00:00-24:00"]\n'
                    'night = ["mon-sun 22:00-06:00"]\n')
    init_keys(tmp_path / "keys")
    with Store.open(load_config(path)) as store:
        store.add_person(employee_no="E1", name="Ann", role="staff", schedule="night")
        store.add_person(employee_no="E2", name="Bob", role="staff", schedule="mon-fri 08:00-12:00")
    assert kiosk("config", "check", str(path)).returncode == 0
    path.write_text(path.read_text().replace("night =", "late ="))
    result = kiosk("config", "check", str(path))
    assert result.returncode == 2
    assert "access.schedules: no such schedule for enrolled persons: 'night' (persons E1)" in result.stderr
    result = kiosk("person", "add", "--config", str(path), "--employee-no", "E3", "--name", "Cy", "--schedule", "nite")
    assert result.returncode == 1 and "--schedule: schedule 'nite' is neither a name in access.schedules (late, staff)" \
        in result.stderr
