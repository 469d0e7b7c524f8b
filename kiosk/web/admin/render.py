"""Server-rendered pages: one Jinja2 environment (autoescape on, undefined names are errors)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from .auth import Context

TEMPLATES = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined))
NO_STORE = {"cache-control": "no-store"}

NAV = (("/admin", "Dashboard", "dashboard"), ("/admin/people", "People", "people.read"),
       ("/admin/visitors", "Visitors", "people.read"),
       ("/admin/attendance", "Attendance", "attendance.read"), ("/admin/events", "Events", "events.read"),
       ("/admin/audit", "Audit", "events.read"), ("/admin/device", "Device", "device.read"))


def render(context: Context, template: str, status: int = 200, **values: Any) -> Response:
    """A page of the console: the nav shows only what the role may open."""
    nav = [(path, label) for path, label, permission in NAV if context.can(permission)]
    return TEMPLATES.TemplateResponse(context.request, f"admin/{template}", {
        "account": context.session.account, "csrf": context.session.csrf, "nav": nav,
        "here": context.request.url.path, "can": context.can, "message": values.pop("message", None),
        "error": values.pop("error", None), **values}, status_code=status, headers=NO_STORE)


def render_plain(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    """A page outside a session (the login page)."""
    return TEMPLATES.TemplateResponse(request, f"admin/{template}", values, status_code=status, headers=NO_STORE)
