"""[web]: the web server inside the daemon (the kiosk screen, its live updates, the health API, the admin console)."""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

from pydantic import Field, field_validator, model_validator

from .base import Section

LOOPBACK_NAMES = frozenset({"localhost"})


def split_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8080' -> ('127.0.0.1', 8080); IPv6 in brackets: '[::1]:8080' -> ('::1', 8080)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("give HOST:PORT, e.g. '127.0.0.1:8080' or '[::1]:8080'")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"'{host}' in brackets is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError("write an IPv6 address in brackets, e.g. '[::1]:8080'")
    number = int(port)
    if number > 65535:
        raise ValueError("the port must be 0..65535")
    return host, number


def is_loopback(host: str) -> bool:
    """True for 'localhost' and loopback addresses; any other name or address reaches beyond this device."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebConfig(Section):
    enabled: bool = Field(False, description="Serve the kiosk screen (/), its live updates, /api/health and the "
                                             "admin console (/admin) from the daemon.")
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT to listen on ([::1]:8080 for IPv6; port 0 = any "
                                                      "free port). The address is logged at start.")
    tls_cert: Optional[Path] = Field(None, description="PEM certificate (chain) for HTTPS; with tls_key.")
    tls_key: Optional[Path] = Field(None, description="PEM private key of tls_cert.")
    allow_plain_http: bool = Field(False, description="Serve plain HTTP on an address beyond localhost (refused "
                                                      "otherwise; warned about at every start).")
    session_lifetime_s: float = Field(28800.0, ge=300, le=7 * 86400,
                                      description="Lifetime of an admin console session from login (seconds); "
                                                  "then the console asks to log in again.")
    preview_fps: float = Field(10.0, ge=0, le=30, description="Camera preview frames per second sent to each screen "
                                                               "(0 = no preview); encoded only while a screen "
                                                               "watches.")
    preview_width: int = Field(320, ge=80, le=1280, description="Width in pixels of the preview JPEG (downscaled).")

    @field_validator("listen")
    @classmethod
    def _listen_is_host_port(cls, value: str) -> str:
        split_listen(value)
        return value

    @model_validator(mode="after")
    def _tls_beyond_localhost(self) -> WebConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("web.tls_cert and web.tls_key go together: set both or neither")
        if self.enabled and self.tls_cert is None and not self.allow_plain_http and not is_loopback(self.host):
            raise ValueError(f"web.listen = '{self.listen}' reaches beyond localhost: set web.tls_cert and "
                             "web.tls_key, or web.allow_plain_http = true to serve plain HTTP anyway (the camera "
                             "preview would cross the network in clear)")
        return self

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def plain_beyond_localhost(self) -> bool:
        """Plain HTTP on an address other devices can reach (allowed by allow_plain_http, warned about)."""
        return not self.tls and not is_loopback(self.host)
