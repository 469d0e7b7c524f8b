"""Secure by default, without a broker: the configuration refuses commands over an open broker, `acl` on an
anonymous one and a shared client id; the warnings at start; the takeover counter; pinned-key verification."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fake_clock import FakeClock

from kiosk.config import ConfigError, load_config, parse_config
from kiosk.mqtt.device_signing import PinnedDeviceKeys, sign_message, verify_message
from kiosk.mqtt.security import insecure_warnings
from kiosk.mqtt.signing import SignatureError
from kiosk.mqtt.takeover import ALARM_WINDOW_S, LOG_INTERVAL_S, TAKEN_OVER, TakeoverWatch

ROOT = Path(__file__).resolve().parents[2]
LOGIN = {"username": "door-1", "password_file": "mqtt-password"}
CERT = {"cert_file": "door-1.pem", "key_file": "door-1.key"}


@pytest.fixture(autouse=True)
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The credential files exist (the configuration checks that they are readable) in the working directory."""
    for name in ("mqtt-password", "door-1.pem", "door-1.key"):
        (tmp_path / name).write_text("x\n")
    monkeypatch.chdir(tmp_path)


def mqtt(**keys: Any) -> dict[str, Any]:
    return {"device": {"id": "door-1"}, "mqtt": {"enabled": True, **keys}}


def config_check(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "kiosk", "config", "check", "--config", str(path)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("keys, missing", [({}, "mqtt.tls and a login"), ({"tls": True}, "need a login"),
                                           (LOGIN, "need mqtt.tls;"), ({"tls": True, "username": "door-1"},
                                                                       "need a login")])
def test_commands_over_an_open_broker_are_refused(keys: dict[str, Any], missing: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(mqtt(**keys), "kiosk.toml")
    line = str(refused.value)
    assert missing in line and "mqtt.allow_insecure_commands = true" in line and "mqtt.accept_commands" in line
    assert "\n" not in line


@pytest.mark.parametrize("keys", [{"tls": True, **LOGIN}, {"tls": True, **CERT}, {"accept_commands": False},
                                  {"allow_insecure_commands": True}, {"enabled": False}])
def test_secure_publish_only_or_overridden_configurations_load(keys: dict[str, Any]) -> None:
    parse_config(mqtt(**keys))


def test_config_check_names_the_keys_and_accepts_the_override(tmp_path: Path) -> None:
    plain = '[device]\nid = "door-1"\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\n'
    refused = config_check(tmp_path, plain)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "remote commands (mqtt.accept_commands) need mqtt.tls and a login" in refused.stderr
    accepted = config_check(tmp_path, plain + "allow_insecure_commands = true\n")
    assert accepted.returncode == 0 and accepted.stdout.endswith(": OK\n"), accepted.stderr


def test_acl_on_an_anonymous_broker_is_refused_even_with_the_override(tmp_path: Path) -> None:
    refused = config_check(tmp_path, '[device]\nid = "door-1"\n[mqtt]\nenabled = true\ncommand_auth = "acl"\n'
                                     "tls = true\nallow_insecure_commands = true\n")
    assert refused.returncode == 2
    assert 'mqtt.command_auth = "acl" needs a broker login (mqtt.username + mqtt.password_file' in refused.stderr
    parse_config(mqtt(command_auth="acl", tls=True, **LOGIN))
    parse_config(mqtt(command_auth="acl", tls=True, **CERT))
    with pytest.raises(ConfigError, match="acl"):
        parse_config(mqtt(command_auth="acl", **CERT, allow_insecure_commands=True))   # a certificate needs TLS


def test_a_client_id_shared_between_kiosks_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"mqtt.client_id = 'kiosk' must contain device.id 'door-1'"):
        parse_config({"device": {"id": "door-1"}, "mqtt": {"client_id": "kiosk"}})
    parse_config({"device": {"id": "door-1"}, "mqtt": {"client_id": "site-a/door-1"}})


def test_the_shipped_configurations_pass_and_the_hardware_one_can_be_enabled(tmp_path: Path) -> None:
    load_config(ROOT / "etc" / "kiosk-sim.toml")
    text = (ROOT / "etc" / "kiosk.toml").read_text()
    config = load_config(ROOT / "etc" / "kiosk.toml")
    assert config.mqtt.secure and not config.mqtt.allow_insecure_commands
    enabled = tmp_path / "kiosk.toml"
    enabled.write_text(text.replace("enabled = false", "enabled = true").replace("/etc/kiosk/", f"{tmp_path}/")
                       .replace("ca.pem", "door-1.pem"))   # the files it names exist (checked at load)
    assert load_config(enabled).mqtt.enabled


def test_every_start_warns_about_what_is_open() -> None:
    plain = parse_config(mqtt(allow_insecure_commands=True)).mqtt
    lines = insecure_warnings(plain)
    assert len(lines) == 3
    assert "plain TCP" in lines[0] and "no login" in lines[1] and "mqtt.allow_insecure_commands = true" in lines[2]
    publish_only = parse_config(mqtt(accept_commands=False, tls=True)).mqtt
    assert [line.split(" at ")[0] for line in insecure_warnings(publish_only)] == ["mqtt: no login"]
    assert insecure_warnings(parse_config(mqtt(tls=True, **LOGIN)).mqtt) == []



def test_takeovers_raise_an_alarm_log_rarely_and_clear_with_time() -> None:
    clock = FakeClock()
    watch = TakeoverWatch("kiosk-door-1", clock=clock)
    assert not watch.connection_lost(0x80, 3600.0) and watch.total == 0        # lost after an hour: not a takeover
    lines = []
    for _ in range(49):                                                        # the tester's 49 in 45 s
        assert watch.connection_lost(TAKEN_OVER, 0.5)
        lines.append(watch.report())
        clock.now += 45 / 49
    assert watch.alarm and watch.total == 49
    logged = [line for line in lines if line]
    assert logged == ["mqtt: another client took over the session of client id 'kiosk-door-1': 1 time since the "
                      "last report, 1 in the last 300 s"]
    clock.now += LOG_INTERVAL_S
    watch.connection_lost(TAKEN_OVER, 3600.0)                                 # the reason code alone counts
    line = watch.report()
    assert line is not None and "49 times since the last report, 50 in the last 300 s" in line
    clock.now += ALARM_WINDOW_S + 1
    assert not watch.alarm and watch.recent() == 0


def test_a_connection_closed_right_after_connecting_counts_without_the_reason_code() -> None:
    watch = TakeoverWatch("kiosk-door-1", clock=FakeClock())
    watch.connection_lost(128, 0.2)
    assert watch.report() == ("mqtt: the broker closed the connection right after connecting, "
                                               "probably for another client with client id 'kiosk-door-1': 1 time "
                                               "since the last report, 1 in the last 300 s")
    watch.connection_lost(128, 0.2)
    assert not watch.alarm
    watch.connection_lost(128, 0.2)
    assert watch.alarm


def test_a_connection_closed_after_a_refused_message_is_not_a_takeover() -> None:
    """mosquitto 2.0 drops the connection after a PUBACK 'Not authorized'; that has its own alarm."""
    watch = TakeoverWatch("kiosk-door-1", clock=FakeClock())
    for _ in range(5):
        assert not watch.connection_lost(128, 0.2, refusals=1)
    assert watch.total == 0 and not watch.alarm and watch.report() is None
    assert watch.connection_lost(TAKEN_OVER, 0.2, refusals=1)                # the reason code still counts


def write_public(key: Ed25519PrivateKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))


def test_only_the_pinned_key_verifies_a_device_message(tmp_path: Path) -> None:
    device, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    write_public(device, tmp_path / "devices" / "door-1.pub")
    pinned = PinnedDeviceKeys(tmp_path / "devices")
    result = {"request_id": "r1", "command": "delete_person", "device_id": "door-1", "ok": True,
              "result": {"erased": True}}
    assert verify_message(sign_message(result, device), "door-1", pinned)
    with pytest.raises(SignatureError, match="not signed"):
        verify_message(result, "door-1", pinned)
    with pytest.raises(SignatureError, match="not by .* pinned for door-1"):
        verify_message(sign_message(result, forger), "door-1", pinned)
    altered = {**sign_message(result, device), "ok": False}
    with pytest.raises(SignatureError, match="bad signature by the key pinned for door-1"):
        verify_message(altered, "door-1", pinned)
    with pytest.raises(SignatureError, match="names device 'door-1', not 'ghost'"):
        verify_message(sign_message(result, device), "ghost", pinned)
    ghost = {**result, "device_id": "ghost"}
    with pytest.raises(SignatureError, match="no key pinned for device 'ghost'"):
        verify_message(sign_message(ghost, forger), "ghost", pinned)
    with pytest.raises(SignatureError, match="not a device id"):
        pinned.key_for("../keys/signing")
