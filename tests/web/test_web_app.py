"""The web app against fake daemon state: the page, the pushed updates (SSE), the health JSON, the headers."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient
from web_support import WAIT_S, LiveServer, SseReader, fake_health, web_config, welcome

from kiosk.access.feedback import Screen
from kiosk.access.policy import Notice
from kiosk.web.app import create_app
from kiosk.web.headers import host_name
from kiosk.web.screen import ScreenHub
from kiosk.web.server import STOP_S


def client(language: str = "en", local_only: bool = True) -> tuple[TestClient, ScreenHub]:
    hub = ScreenHub(language)
    return TestClient(create_app(hub, fake_health, local_only=local_only), base_url="http://127.0.0.1:8080"), hub


def test_the_page_is_rendered_in_the_screens_language_with_the_state_of_the_moment() -> None:
    web, hub = client("zh-Hans")
    hub.show(welcome("张伟"))
    page = web.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="zh-Hans">' in page.text
    assert '<p id="message">欢迎，张伟</p>' in page.text and "36.6 °C" in page.text
    assert 'data-tone="granted"' in page.text
    english = client("en")[0].get("/").text
    assert '<p id="message">Please step up to the kiosk</p>' in english and 'data-tone="idle"' in english


def test_names_are_escaped_on_the_page() -> None:
    web, hub = client()
    hub.show(welcome("<script>alert(1)</script>"))
    page = web.get("/").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_strict_content_security_policy_and_no_inline_script_or_style() -> None:
    web, _ = client()
    page = web.get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe" not in policy
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page.text, re.S)
    assert scripts == [""], "one script, from /static, with no inline body"
    assert re.search(r"<script src=\"/static/screen.js\"", page.text)
    assert not re.search(r"\sstyle=|\son[a-z]+=|<style", page.text), "no inline style or event handler"
    for path, kind in (("/static/screen.js", "javascript"), ("/static/screen.css", "text/css")):
        response = web.get(path)
        assert response.status_code == 200 and kind in response.headers["content-type"], path
        assert "content-security-policy" in response.headers


def test_health_answers_the_daemons_report_as_json() -> None:
    web, _ = client()
    response = web.get("/api/health")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["pipeline_alive"] is True and report["fps"] == {"camera": 15.0}
    assert report["clock"]["checked_at"] == "2026-12-03 10:00:00+00:00", "values json cannot write become text"


def test_bad_requests_get_clear_4xx() -> None:
    web, _ = client()
    assert web.get("/admin").status_code == 404
    assert web.post("/api/health").status_code == 405
    assert web.get("/preview.mjpg").status_code == 404, "no preview hub: no preview route"
    assert web.get("/static/../app.py").status_code == 404


@pytest.mark.parametrize(("host", "status"), [
    ("127.0.0.1:8080", 200), ("localhost", 200), ("[::1]:8080", 200), ("evil.example", 400),
    ("127.0.0.1.evil.example:8080", 400), ("", 400)])
def test_a_localhost_server_answers_to_localhost_names_only(host: str, status: int) -> None:
    web, _ = client()
    response = web.get("/api/health", headers={"host": host})
    assert response.status_code == status
    if status == 400:
        assert "localhost only" in response.text
    other, _ = client(local_only=False)
    assert other.get("/api/health", headers={"host": "kiosk.example"}).status_code == 200


def test_host_name() -> None:
    assert [host_name(h) for h in ("LocalHost:80", "[::1]:8080", "[::1]", "127.0.0.1")] == \
        ["localhost", "[::1]", "[::1]", "127.0.0.1"]


def test_screen_updates_are_pushed_as_server_sent_events() -> None:
    with LiveServer(web_config()) as server:
        reader = SseReader(f"{server.url}events/screen")
        assert reader.wait_for(lambda views: len(views) == 1), "the state of the moment first"
        assert reader.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert reader.headers["cache-control"] == "no-store"
        server.call(server.web.screen.show, Screen(Notice.remove_mask, "Please remove your mask"))
        server.call(server.web.screen.show, welcome("José Álvarez"))
        assert reader.wait_for(lambda views: len(views) == 3)
        first, mask, hello = (view for _, view in reader.views)
        assert first["state"] == "idle" and first["message"] == "Please step up to the kiosk"
        assert mask == {**mask, "state": "remove_mask", "tone": "prompt", "message": "Please remove your mask",
                        "verdict": False, "temperature": None}
        assert hello["text"] == "Welcome, José Álvarez — 36.6 °C" and hello["tone"] == "granted"
        assert hello["decided_at"] is not None and hello["seq"] > mask["seq"] > first["seq"]
        raw = bytes(reader.raw)
        assert raw.startswith(b"retry: 1000\n\n")
        assert "Welcome, José Álvarez".encode() in raw, "UTF-8 on the wire, not \\u escapes"
        assert re.search(rb"id: \d+\nevent: screen\ndata: \{", raw)
        server.stop()
        assert reader.ended.wait(WAIT_S), "the stream ends when the daemon stops"
        assert server.stopped_in is not None and server.stopped_in < STOP_S + 5   # guard, not a benchmark


def test_simplified_chinese_updates() -> None:
    with LiveServer(web_config(language="zh-Hans")) as server:
        reader = SseReader(f"{server.url}events/screen")
        assert reader.wait_for(lambda views: len(views) == 1)
        server.call(server.web.screen.show, welcome("张伟", body_c=36.8))
        server.call(server.web.screen.show, Screen(Notice.see_staff, "Please see staff", verdict=True))
        assert reader.wait_for(lambda views: len(views) >= 3 and views[-1]["state"] == "see_staff")
        texts = [view["text"] for _, view in reader.views]
        assert "欢迎，张伟 — 36.8 °C" in texts and texts[-1] == "请联系工作人员"
        assert "欢迎，张伟".encode() in bytes(reader.raw)


def test_a_screen_that_connects_later_gets_the_state_of_the_moment_and_screens_are_bounded() -> None:
    with LiveServer(web_config()) as server:
        server.call(server.web.screen.show, welcome("Ann"))
        server.web.screen.max_clients = 1
        first = SseReader(f"{server.url}events/screen")
        assert first.wait_for(lambda views: views and views[0]["message"] == "Welcome, Ann")
        assert server.call(lambda: server.web.screen.clients) == 1
        refused = httpx.get(f"{server.url}events/screen", timeout=WAIT_S)
        assert refused.status_code == 503 and "at most 1 kiosk screens" in refused.text
        health = httpx.get(f"{server.url}api/health", timeout=WAIT_S).json()
        assert health["pipeline_alive"] is True


def test_health_over_the_real_server() -> None:
    with LiveServer(web_config()) as server:
        response = httpx.get(f"{server.url}api/health", timeout=WAIT_S)
        assert response.status_code == 200 and json.loads(response.text)["uptime_s"] == 12.5


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk.test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_beyond_localhost(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with LiveServer(web_config(listen="0.0.0.0:0", tls_cert=str(cert), tls_key=str(key))) as server:
        assert server.url.startswith("https://0.0.0.0:")
        url = server.url.replace("0.0.0.0", "127.0.0.1")
        response = httpx.get(f"{url}api/health", verify=False, timeout=WAIT_S, headers={"host": "kiosk.test"})
        assert response.status_code == 200 and response.json()["pipeline_alive"] is True
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url.replace('https', 'http')}api/health", timeout=WAIT_S)
