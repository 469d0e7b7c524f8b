"""Consents recorded in the console and not yet used for an upload, each for one account and person."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

MAX_HELD = 100


@dataclass(frozen=True)
class Held:
    account: str
    person_id: str
    consent: Any        # kiosk.store.Consent
    until: float


class HeldConsents:
    """Consents recorded and not yet used, by a random id (memory: a restart asks again)."""

    def __init__(self) -> None:
        self._held: dict[str, Held] = {}

    def hold(self, held: Held, now: float) -> str:
        self._held = {k: v for k, v in self._held.items() if v.until > now}
        while len(self._held) >= MAX_HELD:
            del self._held[next(iter(self._held))]
        key = secrets.token_urlsafe(16)
        self._held[key] = held
        return key

    def get(self, key: str, account: str, person_id: str, now: float) -> Held | None:
        held = self._held.get(key)
        if held is None or held.until <= now or held.account != account or held.person_id != person_id:
            return None
        return held

    def drop(self, key: str) -> None:
        self._held.pop(key, None)
