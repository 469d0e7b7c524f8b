"""GET/POST /admin/login and POST /admin/logout.

The login form carries its own CSRF token (double submit against a cookie set with the form), so a
page elsewhere cannot log a browser into an account of its choosing. Names and passwords are
checked after the rate limit; scrypt runs on the console's password thread, never on the loop.
"""
from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .accounts import NAME_PATTERN, Account
from .auth import (
    COOKIE,
    LOGIN_COOKIE,
    TooLarge,
    clear_cookie,
    cookie_name,
    form_token,
    read_form,
    safe_next,
    same_token,
    session_of,
    set_cookie,
)
from .console import Console
from .render import render_plain

log = logging.getLogger("kiosk.web.admin")


async def _form(request: Request, console: Console, *, status: int = 200, error: str | None = None,
                name: str = "", next_path: str = "/admin", notice: str | None = None) -> Response:
    token = form_token(request, console, LOGIN_COOKIE)
    accounts = await run_in_threadpool(console.accounts.all)
    response = render_plain(request, "login.html", status, csrf=token, error=error, name=name, next=next_path,
                            notice=notice, no_accounts=not accounts)
    set_cookie(response, console, LOGIN_COOKIE, token, max_age=3600)
    return response


async def login_page(request: Request, console: Console) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if await session_of(request, console) is not None:
        return RedirectResponse(next_path, status_code=303)
    notice = "Your session has ended: log in again." if request.query_params.get("expired") else None
    return await _form(request, console, next_path=next_path, notice=notice)


async def login(request: Request, console: Console) -> Response:
    try:
        form = await read_form(request)
    except TooLarge:
        return Response("form too large", status_code=413)
    if not same_token(form.get("csrf"), request.cookies.get(cookie_name(console, LOGIN_COOKIE), "")):
        return Response("The login form's security token is missing or wrong: reload the page.", status_code=403)
    name, password = str(form.get("name", "")).strip().lower(), str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "")))
    address = request.client.host if request.client else "unknown"
    wait = console.limiter.wait(name, address)
    if wait is not None:
        log.warning("admin login refused: locked", extra={"fields": {"account": name, "address": address}})
        return await _form(request, console, status=429, name=name, next_path=next_path,
                     error=f"Too many failed logins: try again in {max(1, round(wait / 60))} minute(s).")
    loop = asyncio.get_running_loop()
    account: Account | None = await loop.run_in_executor(console.password_executor, console.accounts.authenticate,
                                                         name, password)
    if account is None:
        locked = console.limiter.failed(name, address)
        shown = name if NAME_PATTERN.fullmatch(name) else "(not an account name)"
        await console.in_store(lambda store: store.audit("login", actor=f"web:{shown}",
                                                         outcome="locked" if locked else "failed",
                                                         detail={"address": address}))
        log.warning("admin login failed", extra={"fields": {"account": name, "address": address, "locked": locked}})
        return await _form(request, console, status=429 if locked else 401, name=name, next_path=next_path,
                     error=("Too many failed logins: this account is locked for 15 minutes." if locked
                            else "Wrong account name or password."))
    console.limiter.succeeded(name)
    token, session = await loop.run_in_executor(None, console.accounts.open_session, account,
                                                console.config.web.session_lifetime_s)
    await console.in_store(lambda store: store.audit("login", actor=f"web:{account.name}", outcome="ok",
                                                     detail={"address": address, "role": account.role.value}))
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(response, console, COOKIE, token, max_age=int(console.config.web.session_lifetime_s))
    clear_cookie(response, console, LOGIN_COOKIE)
    return response


async def logout(request: Request, console: Console) -> Response:
    """POST with the session's CSRF token (a link elsewhere cannot log anyone out)."""
    session = await session_of(request, console)
    try:
        form = await read_form(request)
    except TooLarge:
        return Response("form too large", status_code=413)
    response = RedirectResponse("/admin/login", status_code=303)
    if session is None:
        clear_cookie(response, console, COOKIE)
        return response
    if not same_token(form.get("csrf"), session.csrf):
        return Response("The form's security token is missing or wrong.", status_code=403)
    token = request.cookies.get(cookie_name(console, COOKIE), "")
    await asyncio.get_running_loop().run_in_executor(None, console.accounts.close_session, token)
    await console.audit(session, "login", outcome="logout")
    clear_cookie(response, console, COOKIE)
    return response
