"""The console's accounts, login, sessions, CSRF, lockout and roles (Starlette TestClient, fake clock)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from admin_support import PASSWORDS, admin_console, csrf_of, health, logged_in, login, post
from starlette.testclient import TestClient

from kiosk.web.admin import limits
from kiosk.web.admin.accounts import AccountError, Accounts, Role
from kiosk.web.admin.auth import PERMISSIONS, safe_next
from kiosk.web.admin.passwords import PasswordError, hash_password, verify_password
from kiosk.web.app import create_app


@pytest.fixture
def admin(tmp_path: Path):
    with admin_console(tmp_path) as admin:
        yield admin


def test_passwords_are_scrypt_hashes_with_their_parameters() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$15$8$1$") and "correct" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("x", "not a hash") and not verify_password("x", "scrypt$1$2$3$!!$!!")
    assert hash_password("correct horse battery") != stored, "salted"


def test_accounts_file_is_owner_only_and_names_and_passwords_are_checked(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "admin.db")
    assert (tmp_path / "admin.db").stat().st_mode & 0o777 == 0o600
    with pytest.raises(AccountError, match="not an account name"):
        accounts.add("Root Admin", "admin", "long enough password")
    with pytest.raises(PasswordError, match="at least 10"):
        accounts.add("root", "admin", "short")
    with pytest.raises(ValueError):
        accounts.add("root", "superuser", "long enough password")
    accounts.add("root", "admin", "long enough password")
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("root", "hr", "long enough password")
    assert [(a.name, a.role) for a in accounts.all()] == [("root", Role.admin)]
    assert accounts.authenticate("root", "long enough password") is not None
    assert accounts.authenticate("root", "wrong") is None and accounts.authenticate("nobody", "x") is None


def test_without_a_session_pages_redirect_to_login_and_the_kiosk_screen_stays_open(admin) -> None:
    client = admin.client()
    assert client.get("/").status_code == 200
    response = client.get("/admin/decisions", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/login?next=/admin/decisions"
    assert client.post("/admin/logout", follow_redirects=False).status_code == 303
    page = client.get("/admin/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert page.headers["cache-control"] == "no-store" and "script-src 'self'" in page.headers["content-security-policy"]


def test_login_sets_a_strict_http_only_session_cookie_and_logs_in_and_out(admin) -> None:
    client = admin.client()
    response = login(client, "root", next_path="/admin/people")
    assert response.status_code == 303 and response.headers["location"] == "/admin/people"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("kiosk_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert "Max-Age=28800" in cookie
    page = client.get("/admin")
    assert page.status_code == 200 and "root (admin)" in page.text and "Dashboard" in page.text
    [record] = admin.audit("login")
    assert record["actor"] == "web:root" and record["outcome"] == "ok"
    assert post(client, "/admin/logout", {}).status_code == 303
    assert client.get("/admin", follow_redirects=False).status_code == 303
    assert [r["outcome"] for r in admin.audit("login")] == ["ok", "logout"]


def test_a_tls_server_uses_a_secure_host_prefixed_cookie(tmp_path: Path) -> None:
    with admin_console(tmp_path, web={"enabled": True, "listen": "127.0.0.1:0", "tls_cert": "/c.pem",
                                      "tls_key": "/k.pem"}) as admin:
        client = TestClient(create_app(admin.screen, health, console=admin.console), base_url="https://127.0.0.1")
        page = client.get("/admin/login")
        response = client.post("/admin/login", data={"csrf": csrf_of(page.text), "name": "root",
                                                      "password": PASSWORDS["root"]}, follow_redirects=False)
        cookie = next(c for c in response.headers.get_list("set-cookie") if "kiosk_session=" in c)
        assert cookie.startswith("__Host-kiosk_session=") and "Secure" in cookie and "HttpOnly" in cookie


def test_login_needs_its_form_token(admin) -> None:
    client = admin.client()
    client.get("/admin/login")
    response = client.post("/admin/login", data={"name": "root", "password": PASSWORDS["root"]})
    assert response.status_code == 403 and "security token" in response.text
    other = admin.client()      # a token from another browser's form does not match this one's cookie
    token = csrf_of(other.get("/admin/login").text)
    assert client.post("/admin/login", data={"csrf": token, "name": "root",
                                             "password": PASSWORDS["root"]}).status_code == 403


def test_a_post_without_its_csrf_token_is_refused(admin) -> None:
    client = logged_in(admin, "root")
    assert client.post("/admin/logout", data={}).status_code == 403
    assert client.post("/admin/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/admin").status_code == 200, "still logged in"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin", "/admin/../x", "/\\evil.example",
                                    "/adminx", "javascript:alert(1)", "/admin//evil.example"])
def test_no_open_redirect_after_login(admin, target: str) -> None:
    assert safe_next(target) == "/admin"
    response = login(admin.client(), "root", next_path=target)
    assert response.headers["location"] == "/admin"


def test_safe_next_keeps_console_paths() -> None:
    assert safe_next("/admin/people?q=ann") == "/admin/people?q=ann"
    assert safe_next("/admin") == "/admin"


def test_wrong_passwords_lock_the_account_and_a_success_clears_the_count(admin) -> None:
    client = admin.client()
    for _ in range(limits.ACCOUNT_FAILURES - 1):
        assert login(client, "root", "wrong password").status_code == 401
    assert login(client, "root").status_code == 303, "the right password before the limit"
    client = admin.client()
    for _ in range(limits.ACCOUNT_FAILURES):
        response = login(client, "hana", "wrong password")
    assert response.status_code == 429 and "locked for 15 minutes" in response.text
    refused = login(admin.client(), "hana")        # the right password, any browser: still locked
    assert refused.status_code == 429 and "try again in 15 minute(s)" in refused.text
    admin.clock.now += limits.LOCKOUT_S + 1
    assert login(admin.client(), "hana").status_code == 303
    outcomes = [r["outcome"] for r in admin.audit("login") if r["actor"] == "web:hana"]
    assert outcomes == ["failed"] * 4 + ["locked", "ok"]


def test_unknown_names_lock_like_known_ones(admin) -> None:
    client = admin.client()
    for _ in range(limits.ACCOUNT_FAILURES):
        response = login(client, "nobody", "wrong password")
    assert response.status_code == 429 and "locked" in response.text


def test_many_failures_from_one_address_lock_the_address(admin, monkeypatch) -> None:
    monkeypatch.setattr(limits, "ADDRESS_FAILURES", 6)
    admin.console.limiter = limits.LoginLimiter(admin.clock)
    client = admin.client()
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert login(client, name, "wrong password").status_code == 401
    assert login(client, "a6", "wrong password").status_code == 429
    assert login(client, "root").status_code == 429, "the address is locked for every name"


def test_an_expired_session_redirects_to_login_saying_so(admin) -> None:
    client = logged_in(admin, "hana")
    admin.clock.now += admin.config.web.session_lifetime_s + 1
    response = client.get("/admin", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/login?next=/admin&expired=1"
    assert "Your session has ended" in client.get(response.headers["location"]).text


def test_removing_an_account_ends_its_sessions(admin) -> None:
    client = logged_in(admin, "hana")
    admin.console.accounts.remove("hana")
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_session_tokens_are_stored_hashed(admin) -> None:
    client = logged_in(admin, "root")
    token = client.cookies["kiosk_session"]
    assert token not in (admin.config.state_dir / "admin.db").read_bytes().decode("latin-1")


def test_roles_see_only_their_pages(admin) -> None:
    hr, auditor = logged_in(admin, "hana"), logged_in(admin, "audrey")
    nav = re.compile(r'<nav>(.*?)</nav>', re.S)
    assert "/admin/device" not in nav.search(hr.get("/admin").text).group(1)
    assert "/admin/events" in nav.search(auditor.get("/admin").text).group(1)
    assert PERMISSIONS["device.act"] == frozenset({Role.admin})
    assert all(role in roles for roles in PERMISSIONS.values() for role in [Role.admin]), "admin: everything"
    assert not any(Role.auditor in roles for name, roles in PERMISSIONS.items() if name.endswith((".write", ".act")))


def test_an_oversized_form_is_refused(admin) -> None:
    client = logged_in(admin, "root")
    token = csrf_of(client.get("/admin").text)
    response = client.post("/admin/logout", data={"csrf": token, "pad": "x" * 70_000})
    assert response.status_code == 413
