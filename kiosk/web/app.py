"""The web application: routes of the kiosk screen and the health API (Starlette).

    GET /               the kiosk screen (server-rendered; /static/screen.js follows the updates)
    GET /events/screen  Server-Sent Events: one `screen` event per change of the screen
    GET /preview.mjpg   the camera preview as MJPEG (when web.preview_fps > 0)
    GET /api/health     the daemon's health report as JSON
    /admin/...          the admin console (kiosk/web/admin), when a Console is given
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..access import catalogue
from .headers import SecurityHeaders
from .preview import PreviewHub
from .screen import ScreenHub, TooManyClients

if TYPE_CHECKING:
    from .admin.console import Console

HERE = Path(__file__).parent
MJPEG_BOUNDARY = "frame"
SSE_RETRY_MS = 1000         # how soon a page reconnects after the daemon restarts
NO_STORE = {"cache-control": "no-store"}


def create_app(screen: ScreenHub, health: Callable[[], dict[str, Any]], *, preview: Optional[PreviewHub] = None,
               local_only: bool = True, tls: bool = False, console: Optional[Console] = None) -> SecurityHeaders:
    """The ASGI app over the daemon's state: the screen hub, a health report reader, the preview hub, and the
    admin console's link to the daemon."""
    templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                                       autoescape=True, undefined=jinja2.StrictUndefined))

    async def page(request: Request) -> Response:
        language = screen.language
        strings = {key: catalogue.text(key, language) for key in ("page_title", "preview", "offline")}
        return templates.TemplateResponse(request, "screen.html", {
            "language": language, "view": screen.current, "strings": strings, "preview": preview is not None},
            headers=NO_STORE)

    async def events(request: Request) -> Response:
        try:
            updates = screen.updates()
        except TooManyClients as exc:
            return PlainTextResponse(str(exc), status_code=503, headers={"retry-after": "5"})
        return StreamingResponse(_sse(updates), media_type="text/event-stream",
                                 headers={**NO_STORE, "x-accel-buffering": "no"})

    async def camera(request: Request) -> Response:
        assert preview is not None
        try:
            frames = preview.frames()
        except TooManyClients as exc:
            return PlainTextResponse(str(exc), status_code=503, headers={"retry-after": "5"})
        return StreamingResponse(_mjpeg(frames), media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
                                 headers=NO_STORE)

    async def health_report(request: Request) -> Response:
        body = json.dumps(health(), ensure_ascii=False, default=str)
        return Response(body, media_type="application/json", headers=NO_STORE)

    routes = [Route("/", page), Route("/events/screen", events), Route("/api/health", health_report),
              Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    if preview is not None:
        routes.append(Route("/preview.mjpg", camera))
    if console is not None:
        from .admin.routes import admin_routes
        routes.extend(admin_routes(console, screen))
    return SecurityHeaders(Starlette(routes=routes), local_only=local_only, tls=tls)


async def _sse(updates: AsyncIterator[Optional[dict[str, Any]]]) -> AsyncIterator[str]:
    yield f"retry: {SSE_RETRY_MS}\n\n"
    async for view in updates:
        if view is None:
            yield ": keepalive\n\n"
        else:
            yield f"id: {view['seq']}\nevent: screen\ndata: {json.dumps(view, ensure_ascii=False)}\n\n"


async def _mjpeg(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """multipart/x-mixed-replace. Each JPEG is followed at once by the next part's boundary and headers:
    Chromium shows a part only when the next one has begun (with the boundary alone it waits a frame)."""
    head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
    yield head
    async for jpeg in frames:
        yield jpeg + b"\r\n" + head
