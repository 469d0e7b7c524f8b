"""The kiosk screen's state of the moment, rendered in the screen's language and pushed to every page.

`ScreenHub.show` is a `kiosk.access.feedback` listener: it runs on the daemon's loop when the screen
changes (never per frame), so a page gets state pushed and never polls the pipeline. Each page
has a small queue of its own; a page too slow to take its updates loses the oldest, never the
newest.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Optional

from ..access import catalogue
from ..access.feedback import IDLE_TEXT, Screen
from ..access.policy import Notice
from ..runtime.queues import LatestQueue

CLIENT_QUEUE = 8
KEEPALIVE_S = 15.0     # an SSE comment this often: a dead connection is noticed, proxies keep it open

TONES: dict[Optional[Notice], str] = {   # the outcome colour: kiosk/web/static/screen.css paints each tone
    None: "idle",
    Notice.welcome: "granted",
    Notice.come_closer: "prompt",
    Notice.stand_still: "prompt",
    Notice.look_at_camera: "prompt",
    Notice.wear_mask: "prompt",
    Notice.remove_mask: "prompt",
    Notice.denied: "denied",
    Notice.fever: "denied",
    Notice.see_staff: "denied",
}


class TooManyClients(Exception):
    """More pages than the hub serves at once."""


def view(screen: Screen, language: str) -> dict[str, Any]:
    """What a page shows for `screen`: the message, the temperature and reminder apart, and `text`, all of it
    in one line ("Welcome, Ann — 36.6 °C")."""
    state = screen.notice.value if screen.notice is not None else "idle"
    if screen.notice == Notice.welcome:
        message = catalogue.welcome(language, screen.name)
    else:
        message = catalogue.text(state, language)
    temperature = catalogue.temperature(language, screen.body_c) if screen.body_c is not None else None
    reminder = catalogue.text("mask_reminder", language) if screen.mask_reminder else None
    return {"state": state, "tone": TONES[screen.notice], "verdict": screen.verdict, "message": message,
            "temperature": temperature, "reminder": reminder,
            "text": " — ".join(part for part in (message, temperature, reminder) if part),
            "decided_at": screen.decided_at.timestamp() if screen.decided_at is not None else None}


class ScreenHub:
    def __init__(self, language: str, max_clients: int = 16) -> None:
        self.language = language
        self.max_clients = max_clients
        self.seq = 0
        self.current = self._numbered(Screen(None, IDLE_TEXT))
        self._clients: set[LatestQueue[Optional[dict[str, Any]]]] = set()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def show(self, screen: Screen) -> None:
        """A new screen (loop thread): every page gets it."""
        self.current = self._numbered(screen)
        for queue in self._clients:
            queue.put(self.current)

    def close(self) -> None:
        """End every page's stream (the daemon stops; the pages reconnect to the next one)."""
        for queue in self._clients:
            queue.put(None)

    def updates(self) -> AsyncIterator[Optional[dict[str, Any]]]:
        """The current view, then each new one until close(); None after KEEPALIVE_S without one.
        TooManyClients at once when max_clients pages are connected."""
        if len(self._clients) >= self.max_clients:
            raise TooManyClients(f"at most {self.max_clients} kiosk screens at once")
        return self._follow()

    async def _follow(self) -> AsyncIterator[Optional[dict[str, Any]]]:
        queue: LatestQueue[Optional[dict[str, Any]]] = LatestQueue(CLIENT_QUEUE)
        queue.put(self.current)
        self._clients.add(queue)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield None
                    continue
                if item is None:
                    return
                yield item
        finally:
            self._clients.discard(queue)

    def _numbered(self, screen: Screen) -> dict[str, Any]:
        self.seq += 1
        return {**view(screen, self.language), "seq": self.seq}
