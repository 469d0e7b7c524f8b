"""The console's routes under /admin: each wrapped by auth.page with the permission it needs."""
from __future__ import annotations

from typing import Optional

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..screen import ScreenHub
from . import attendance, dashboard, device, enrollment, login, people, records, selfenroll, visitors
from .auth import page
from .console import Console


def admin_routes(console: Console, screen: Optional[ScreenHub]) -> list[Route]:
    async def login_page(request: Request) -> Response:
        return await login.login_page(request, console)

    async def login_post(request: Request) -> Response:
        return await login.login(request, console)

    async def logout(request: Request) -> Response:
        return await login.logout(request, console)

    def public(handler):
        async def endpoint(request: Request) -> Response:
            return await handler(request, console)
        return endpoint

    def get(path: str, permission: str, handler) -> Route:
        return Route(path, page(console, permission, handler), methods=["GET"])

    def post(path: str, permission: str, handler, *, upload: bool = False) -> Route:
        return Route(path, page(console, permission, handler, upload=upload), methods=["POST"])

    zone = console.config.device.timezone
    return [
        Route("/admin/login", login_page, methods=["GET"]),
        Route("/admin/login", login_post, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
        get("/admin", "dashboard", dashboard.dashboard),
        get("/admin/decisions", "dashboard", dashboard.decisions_feed(screen, zone)),
        get("/admin/attendance", "attendance.read", attendance.page),
        post("/admin/attendance/export", "attendance.read", attendance.export),
        get("/admin/events", "events.read", records.events_page),
        post("/admin/events/export", "events.read", records.events_export),
        get("/admin/audit", "events.read", records.audit_page),
        post("/admin/audit/verify", "events.read", records.audit_verify),
        post("/admin/audit/export", "events.read", records.audit_export),
        get("/admin/device", "device.read", device.page),
        post("/admin/device/selftest", "device.act", device.selftest),
        post("/admin/device/relay-test", "device.act", device.relay_test),
        get("/admin/visitors", "people.read", visitors.listing),
        get("/admin/visitors/new", "people.write", visitors.new_form),
        post("/admin/visitors/new", "people.write", visitors.register),
        post("/admin/visitors/{ref}/link", "people.write", visitors.link),
        Route("/enroll/{token}", public(selfenroll.start), methods=["GET"]),
        Route("/enroll/{token}/consent", public(selfenroll.consent), methods=["POST"]),
        Route("/enroll/{token}/photo", public(selfenroll.photo), methods=["POST"]),
        get("/admin/people", "people.read", people.listing),
        get("/admin/persons", "people.read", people.to_people),
        get("/admin/people/new", "people.write", people.new_form),
        post("/admin/people/new", "people.write", people.add),
        get("/admin/people/{ref}", "people.read", people.show),
        get("/admin/people/{ref}/enroll", "people.write", enrollment.consent_form),
        post("/admin/people/{ref}/enroll/consent", "people.write", enrollment.record_consent),
        post("/admin/people/{ref}/enroll/photos", "people.write", enrollment.upload, upload=True),
        post("/admin/people/{ref}/enroll/camera", "people.write", enrollment.camera),
        *(post(f"/admin/people/{{ref}}/{kind}", "people.write", people.change(kind))
          for kind in ("edit", "suspend", "reactivate", "extend", "erase")),
    ]
