"""Helpers of the web tests: the web server on a loop of its own thread, an SSE reader, fake daemon state."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Optional

import httpx
import numpy as np

from kiosk.access.feedback import Screen
from kiosk.access.policy import Notice
from kiosk.config import KioskConfig, parse_config
from kiosk.recognition.observations import FaceSample
from kiosk.types import FaceObservation
from kiosk.web.server import WebServer

WAIT_S = 30.0     # guard timeout of every wait: generous, the machine may be busy


def web_config(**web: Any) -> KioskConfig:
    sections: dict[str, Any] = {"web": {"enabled": True, "listen": "127.0.0.1:0", **web}}
    language = sections["web"].pop("language", None)
    if language:
        sections["display"] = {"language": language}
    return parse_config(sections)


def fake_health() -> dict[str, Any]:
    """A report shaped like HealthMonitor.report(), with a value json cannot write by itself."""
    return {"uptime_s": 12.5, "pipeline_alive": True, "fps": {"camera": 15.0}, "alarms": {},
            "clock": {"checked_at": datetime(2026, 12, 3, 10, 0, tzinfo=UTC)}}


def welcome(name: str, body_c: Optional[float] = 36.6) -> Screen:
    return Screen(Notice.welcome, f"Welcome, {name}", verdict=True, name=name, body_c=body_c,
                  decided_at=datetime.now(UTC))


def face(box: tuple[float, float, float, float]) -> FaceSample:
    return FaceSample(FaceObservation(box=box, score=0.99, keypoints=np.zeros((5, 2))))


class LiveServer:
    """A WebServer serving on a loop in a thread, as the daemon serves it on its own loop."""

    def __init__(self, config: KioskConfig, health: Callable[[], dict[str, Any]] = fake_health,
                 console: Any = None) -> None:
        self.web = WebServer(config, health, console=console)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-test-loop", daemon=True)
        self.url = ""
        self.stopped_in: Optional[float] = None

    def __enter__(self) -> LiveServer:
        self.url = self.web.bind()
        self.thread.start()
        self.serving: asyncio.Task = self.call(lambda: asyncio.ensure_future(self.web.serve()))
        return self

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function` on the server's loop (the hubs belong to it) and return its result."""
        async def run() -> Any:
            return function(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(WAIT_S)

    def stop(self) -> None:
        """Cancel the stage as the daemon does at shutdown, and wait until it has ended."""
        async def cancel() -> None:
            self.serving.cancel()
            await asyncio.gather(self.serving, return_exceptions=True)
        if self.serving.done():
            return
        started = time.monotonic()
        asyncio.run_coroutine_threadsafe(cancel(), self.loop).result(WAIT_S)
        self.stopped_in = time.monotonic() - started

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT_S)
        self.loop.close()


class SseReader:
    """Reads an /events/screen stream in a thread; keeps (arrival time.time(), view) of each screen event."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.views: list[tuple[float, dict[str, Any]]] = []
        self.raw = bytearray()
        self.ended = threading.Event()
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, name="sse-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, timeout=httpx.Timeout(WAIT_S, read=None)) as response:
                self.status = response.status_code
                self.headers = response.headers
                pending = b""
                for chunk in response.iter_bytes():
                    arrived = time.time()
                    self.raw += chunk
                    pending += chunk
                    *events, pending = pending.split(b"\n\n")
                    views = [json.loads(line[6:]) for event in events for line in event.decode("utf-8").splitlines()
                             if line.startswith("data: ")]
                    if views:
                        with self._changed:
                            self.views.extend((arrived, view) for view in views)
                            self._changed.notify_all()
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()
            with self._changed:
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = WAIT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate([v for _, v in self.views]), timeout)
