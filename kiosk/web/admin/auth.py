"""Sessions, roles and CSRF for every console route.

`page(permission)` wraps a route: no live session → 303 to the login page (with a safe `next`);
a role without the permission → 403; a POST → its body read within a size limit and its `csrf`
field compared (constant time) with the session's token → 403 when missing or wrong. The session
cookie is HttpOnly, SameSite=Strict, Path=/ and, with TLS, Secure under the `__Host-` prefix.
"""
from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qsl, quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .accounts import Role, Session
from .console import Console

COOKIE = "kiosk_session"
LOGIN_COOKIE = "kiosk_login"          # the login form's CSRF token (double submit: no session yet)
FORM_LIMIT = 64 * 1024                # a form without files
UPLOAD_LIMIT = 10 * 1024 * 1024       # a form with photos
MAX_FILES = 5
SAFE_NEXT = re.compile(r"/admin(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*/?(\?[A-Za-z0-9=&._%+-]*)?")

ALL = frozenset(Role)
STAFF = frozenset({Role.admin, Role.hr})
OVERSIGHT = frozenset({Role.admin, Role.auditor})
PERMISSIONS: dict[str, frozenset[Role]] = {
    "dashboard": ALL,
    "people.read": ALL, "people.write": STAFF,
    "attendance.read": ALL,
    "events.read": OVERSIGHT,
    "device.read": OVERSIGHT, "device.act": frozenset({Role.admin}),
}


class TooLarge(Exception):
    """The body is over its limit (413)."""


def allowed(role: Role, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def safe_next(value: Optional[str]) -> str:
    """A path inside the console to go to after login; anything else (another host, '//x', '/\\x') is /admin."""
    if value and SAFE_NEXT.fullmatch(value) and "//" not in value:
        return value
    return "/admin"


def cookie_name(console: Console, base: str) -> str:
    return f"__Host-{base}" if console.config.web.tls else base


def set_cookie(response: Response, console: Console, base: str, value: str, max_age: Optional[int]) -> None:
    response.set_cookie(cookie_name(console, base), value, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=console.config.web.tls)


def clear_cookie(response: Response, console: Console, base: str) -> None:
    response.delete_cookie(cookie_name(console, base), path="/", httponly=True, samesite="strict",
                           secure=console.config.web.tls)


def form_token(request: Request, console: Console, base: str) -> str:
    """The double-submit token of a page without a session: the browser's current one, else a new one (kept
    across pages, so that going back to an earlier form still works)."""
    current = request.cookies.get(cookie_name(console, base), "")
    return current if re.fullmatch(r"[A-Za-z0-9_-]{43}", current) else secrets.token_urlsafe(32)


def same_token(given: Any, expected: str) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


async def read_form(request: Request, limit: int = FORM_LIMIT) -> FormData:
    """The POSTed form; TooLarge past `limit` bytes (counted as they arrive, whatever Content-Length says)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        fields: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=200))
        return FormData(fields)
    if kind == "multipart/form-data":
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.request", "body": b"", "more_body": False}
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        return await Request(request.scope, replay).form(max_files=MAX_FILES, max_fields=200)
    return FormData()


@dataclass
class Context:
    """What a route gets: the request, the session, the POSTed form (empty for GET), the console."""
    request: Request
    session: Session
    console: Console
    form: FormData = field(default_factory=FormData)

    @property
    def role(self) -> Role:
        return self.session.account.role

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)

    def text(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value.strip() if isinstance(value, str) else default

    def files(self, name: str) -> list[UploadFile]:
        return [f for f in self.form.getlist(name) if isinstance(f, UploadFile) and f.filename]


Handler = Callable[[Context], Awaitable[Response]]


async def session_of(request: Request, console: Console) -> Optional[Session]:
    token = request.cookies.get(cookie_name(console, COOKIE))
    if not token:
        return None
    return await run_in_threadpool(console.accounts.session, token)


def forbidden(text: str) -> Response:
    return HTMLResponse(f"<!doctype html><title>Refused</title><p>{_escape(text)}</p>", status_code=403,
                        headers={"cache-control": "no-store"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def page(console: Console, permission: str, handler: Handler, *, upload: bool = False
         ) -> Callable[[Request], Awaitable[Response]]:
    """The route: session, role, then (POST) size limit and CSRF token, then the handler."""
    async def endpoint(request: Request) -> Response:
        session = await session_of(request, console)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            expired = "&expired=1" if request.cookies.get(cookie_name(console, COOKIE)) else ""
            return RedirectResponse(f"/admin/login?next={quote(safe_next(target), safe='/')}{expired}",
                                    status_code=303)
        if not allowed(session.account.role, permission):
            return forbidden(f"The role {session.account.role.value} may not do this.")
        context = Context(request, session, console)
        if request.method == "POST":
            try:
                context.form = await read_form(request, UPLOAD_LIMIT if upload else FORM_LIMIT)
            except TooLarge:
                limit = UPLOAD_LIMIT if upload else FORM_LIMIT
                return HTMLResponse(f"<!doctype html><title>Too large</title><p>The form is over its limit of "
                                    f"{limit // 1024} KiB.</p>", status_code=413)
            if not same_token(context.form.get("csrf"), session.csrf):
                return forbidden("The form's security token is missing or wrong: reload the page and try again.")
        return await handler(context)
    return endpoint
