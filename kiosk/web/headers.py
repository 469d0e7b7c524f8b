"""Security headers on every response, and the Host check that keeps a localhost server local.

A page on another site cannot read this server's answers through DNS rebinding: while it listens
on loopback only, requests must name a loopback host.
"""
from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: every script and style sheet comes from /static.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def host_name(header: str) -> str:
    """The host of a Host header without its port: 'localhost:8080' -> 'localhost', '[::1]:80' -> '[::1]'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[:header.find("]") + 1] if "]" in header else header
    return header.split(":", 1)[0]


class SecurityHeaders:
    """ASGI middleware: refuses a non-loopback Host when `local_only`, adds the headers to every answer."""

    def __init__(self, app: ASGIApp, *, local_only: bool, tls: bool) -> None:
        self.app = app
        self.local_only = local_only
        self.headers = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"),
                        (b"x-frame-options", b"DENY"),
                        (b"cross-origin-opener-policy", b"same-origin"),
                        (b"cross-origin-resource-policy", b"same-origin")]
        if tls:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.local_only and host_name(Headers(scope=scope).get("host", "")) not in LOOPBACK_HOSTS:
            response = PlainTextResponse("Invalid Host header: this server answers to localhost only", status_code=400)
            await response(scope, receive, self._send_with_headers(send))
            return
        await self.app(scope, receive, self._send_with_headers(send))

    def _send_with_headers(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)
        return wrapped
