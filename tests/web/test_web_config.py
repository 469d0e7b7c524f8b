"""[web] and [display] language: defaults, listen addresses, and plain HTTP beyond localhost refused at load."""
from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from kiosk.config import ConfigError, KioskConfig, load_config, parse_config
from kiosk.web.server import WebError, WebServer

REPO = Path(__file__).resolve().parents[2]


def test_defaults_keep_the_daemon_off_the_network_and_the_sim_config_serves_localhost() -> None:
    web = KioskConfig().web
    assert web.enabled is False and web.listen == "127.0.0.1:8080" and not web.tls
    sim = load_config(REPO / "etc" / "kiosk-sim.toml")
    assert sim.web.enabled and (sim.web.host, sim.web.port) == ("127.0.0.1", 8080)
    assert KioskConfig().display.language == "en"


@pytest.mark.parametrize(("listen", "host", "port"), [
    ("127.0.0.1:8080", "127.0.0.1", 8080), ("[::1]:8443", "::1", 8443), ("localhost:0", "localhost", 0)])
def test_listen_addresses(listen: str, host: str, port: int) -> None:
    web = parse_config({"web": {"enabled": True, "listen": listen}}).web
    assert (web.host, web.port) == (host, port) and not web.plain_beyond_localhost


@pytest.mark.parametrize(("listen", "says"), [
    ("8080", "HOST:PORT"), ("127.0.0.1:http", "HOST:PORT"), ("127.0.0.1:70000", "0..65535"),
    ("::1:8080", "brackets"), ("[not-v6]:8080", "IPv6")])
def test_bad_listen_is_refused_with_what_is_allowed(listen: str, says: str) -> None:
    with pytest.raises(ConfigError, match="web.listen") as error:
        parse_config({"web": {"listen": listen}})
    assert says in str(error.value)


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "192.168.1.20:8080", "[::]:8080", "kiosk.local:8080"])
def test_plain_http_beyond_localhost_is_refused_at_load(listen: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"web": {"enabled": True, "listen": listen}}, "kiosk.toml")
    message = str(error.value)
    assert message.startswith(f"kiosk.toml: web.listen = '{listen}' reaches beyond localhost")
    assert "web.tls_cert and web.tls_key" in message and "web.allow_plain_http = true" in message
    assert "\n" not in message and "{" not in message, "one line, without the table's contents"


def test_tls_or_the_explicit_override_allow_it(tmp_path: Path) -> None:
    with_tls = parse_config({"web": {"enabled": True, "listen": "0.0.0.0:8443", "tls_cert": str(tmp_path / "c.pem"),
                                     "tls_key": str(tmp_path / "k.pem")}}).web
    assert with_tls.tls and not with_tls.plain_beyond_localhost
    plain = parse_config({"web": {"enabled": True, "listen": "0.0.0.0:8080", "allow_plain_http": True}}).web
    assert plain.plain_beyond_localhost
    # Not served, nothing to refuse: switching it on later is where the check bites.
    assert parse_config({"web": {"enabled": False, "listen": "0.0.0.0:8080"}}).web.listen == "0.0.0.0:8080"


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="web.tls_cert and web.tls_key go together"):
        parse_config({"web": {"tls_cert": str(tmp_path / "c.pem")}})


@pytest.mark.parametrize(("key", "value"), [("session_lifetime_s", 10), ("preview_fps", 60), ("preview_width", 20),
                                            ("enabled", "yes"), ("port", 8080)])
def test_other_bad_values(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"web.{key}"):
        parse_config({"web": {key: value}})


def test_display_language() -> None:
    assert parse_config({"display": {"language": "zh-Hans"}}).display.language == "zh-Hans"
    with pytest.raises(ConfigError, match="display.language = 'fr': must be one of 'en' or 'zh-Hans'"):
        parse_config({"display": {"language": "fr"}})


def test_plain_http_beyond_localhost_is_warned_about_at_every_start(caplog) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.web")
    config = parse_config({"web": {"enabled": True, "listen": "0.0.0.0:0", "allow_plain_http": True}})
    for _ in range(2):
        server = WebServer(config, dict)
        url = server.bind()
        server._socket.close()
        assert url.startswith("http://0.0.0.0:")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "plain HTTP" in r.getMessage()]
    assert len(warnings) == 2
    started = [r for r in caplog.records if r.getMessage() == "web: kiosk screen served"]
    assert len(started) == 2 and all(r.fields["url"].startswith("http://0.0.0.0:") for r in started)


def test_a_taken_port_or_an_unreadable_certificate_is_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = WebServer(parse_config({"web": {"enabled": True, "listen": f"127.0.0.1:{port}"}}), dict)
        with pytest.raises(WebError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
            server.bind()
    missing = parse_config({"web": {"enabled": True, "tls_cert": "/nonexistent/cert.pem",
                                    "tls_key": "/nonexistent/key.pem"}})
    with pytest.raises(WebError, match="cannot load the TLS certificate /nonexistent/cert.pem"):
        WebServer(missing, dict).bind()
