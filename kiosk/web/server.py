"""The web server as one stage of the daemon: uvicorn serving the app on the daemon's own loop.

`bind()` at start-up opens the socket and loads the TLS certificate, so that a taken port or a bad
key stops the start with one line; `serve()` is the stage's task. Signals stay the daemon's: this
uvicorn server installs no handlers of its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Optional

import uvicorn

from drivers.camera.base import Frame

from ..config import KioskConfig
from ..config.web import is_loopback
from ..recognition.observations import FaceSample
from .app import create_app
from .preview import PreviewHub
from .screen import ScreenHub

if TYPE_CHECKING:
    from .admin.console import Console

log = logging.getLogger("kiosk.web")

STOP_S = 0.8              # pages are told to go at once; a connection still open after this is cut


class WebError(Exception):
    """The web server cannot start (address in use, unreadable certificate): one line for the operator."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGTERM, SIGINT and SIGHUP are handled by the daemon, which stops this server itself."""
        yield


class WebServer:
    def __init__(self, config: KioskConfig, health: Callable[[], dict[str, Any]],
                 console: Optional[Console] = None) -> None:
        self.config = config.web
        self.screen = ScreenHub(config.display.language.value)
        self._encoder = ThreadPoolExecutor(1, thread_name_prefix="preview")
        self.preview = (PreviewHub(self.config.preview_fps, self.config.preview_width, self._encoder)
                        if self.config.preview_fps > 0 else None)
        self.app = create_app(self.screen, health, preview=self.preview, local_only=is_loopback(self.config.host),
                              tls=self.config.tls, console=console)
        self.console = console
        self.url: Optional[str] = None
        self._socket: Optional[socket.socket] = None
        self._server: Optional[_Server] = None

    def offer_frame(self, frame: Frame) -> None:
        """Each camera frame (loop thread): kept for the preview only while a page watches it, and for a console
        enrollment's burst only while one is armed."""
        if self.preview is not None:
            self.preview.offer_frame(frame)
        if self.console is not None and self.console.burst is not None:
            self.console.burst.offer(frame)

    def offer_faces(self, timestamp: float, samples: list[FaceSample]) -> None:
        """The faces of each recognised frame (loop thread), for the boxes on the preview."""
        if self.preview is not None:
            self.preview.offer_faces(timestamp, samples)

    def status(self) -> dict[str, Any]:
        """For the health report."""
        return {"url": self.url, "screens": self.screen.clients,
                "previews": self.preview.clients if self.preview is not None else 0}

    def bind(self) -> str:
        """Listen on web.listen and load the TLS files; returns the URL. WebError with the reason."""
        web = self.config
        uv_config = uvicorn.Config(
            self.app, lifespan="off", log_config=None, access_log=False, http="h11", ws="none",
            proxy_headers=False, server_header=False, limit_concurrency=64,
            timeout_graceful_shutdown=STOP_S,  # type: ignore[arg-type]  # uvicorn says int; any asyncio timeout works
            ssl_certfile=str(web.tls_cert) if web.tls_cert else None,
            ssl_keyfile=str(web.tls_key) if web.tls_key else None)
        try:
            uv_config.load()
        except (OSError, ssl.SSLError) as exc:
            raise WebError(f"cannot load the TLS certificate {web.tls_cert} and key {web.tls_key}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
        try:
            family, _, _, _, address = socket.getaddrinfo(web.host, web.port, type=socket.SOCK_STREAM)[0]
            self._socket = socket.create_server(address[:2], family=family)
        except OSError as exc:
            raise WebError(f"cannot listen on {web.listen}: {exc.strerror or exc}") from None
        host, port = self._socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if web.tls else 'http'}://{shown}:{port}/"
        self._server = _Server(uv_config)
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)   # its start/stop chatter: our line says it
        if web.plain_beyond_localhost:
            log.warning("web: plain HTTP on an address beyond localhost (web.allow_plain_http = true): the camera "
                        "preview crosses the network unencrypted; set web.tls_cert and web.tls_key",
                        extra={"fields": {"listen": web.listen}})
        fields = {"url": self.url, "health": f"{self.url}api/health"}
        if self.console is not None:
            fields["console"] = f"{self.url}admin"
        log.info("web: kiosk screen served", extra={"fields": fields})
        return self.url

    async def serve(self) -> None:
        """The stage: serve until cancelled, then stop within about STOP_S."""
        assert self._server is not None and self._socket is not None, "bind() first"
        task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="web-server")
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await self._stop(task)
            raise
        raise WebError("the web server stopped on its own")

    async def _stop(self, task: asyncio.Task) -> None:
        assert self._server is not None
        self.screen.close()
        if self.preview is not None:
            self.preview.close()
        self._server.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=STOP_S + 0.5)
        if not done:
            log.warning("web: server still stopping, cut")
            self._server.force_exit = True
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._encoder.shutdown(wait=False, cancel_futures=True)
        if self.console is not None:
            self.console.password_executor.shutdown(wait=False, cancel_futures=True)
