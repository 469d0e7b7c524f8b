"""The console's routes under /admin: each wrapped by auth.page with the permission it needs."""
from __future__ import annotations

from typing import Optional

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..screen import ScreenHub
from . import dashboard, login
from .auth import page
from .console import Console


def admin_routes(console: Console, screen: Optional[ScreenHub]) -> list[Route]:
    async def login_page(request: Request) -> Response:
        return await login.login_page(request, console)

    async def login_post(request: Request) -> Response:
        return await login.login(request, console)

    async def logout(request: Request) -> Response:
        return await login.logout(request, console)

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
    ]
