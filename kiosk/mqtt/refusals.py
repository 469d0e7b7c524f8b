"""Refused commands, summarised: counts per (client, code) over a window, one audit record per window.

Anyone who can publish to the command topic can send refusals as fast as the network carries
them. One signed audit record each (about 20 ms on the store thread that also records gate
events) let 5,000 unsigned commands stall event logging for 14 s and add 5,000 permanent rows.
Refusals are therefore counted here and the ledger gets one record per window (action `command`,
outcome `refused_summary`) with the counts, how many were answered, and the first few in full.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Optional

from .signing import now_iso

WINDOW_S = 60.0
MAX_CLIENTS = 32        # clients counted by name in one window; the rest are counted as "other"
SAMPLES = 5             # refusals of a window kept in full in its record (and logged one by one)
OUTCOME = "refused_summary"
UNREAD = "unread"       # refused before the payload could be read (busy, not UTF-8, not JSON)
_KEY_ID = re.compile(r"[0-9a-f]{16}")


def client_of(envelope: Any, key: Optional[str]) -> str:
    """Whom a refusal is counted against: `key:<id>` for a verified key, `claims:<id>` for the key a
    signature names but that did not verify, else `unsigned`. MQTT does not tell a subscriber who
    published, so a claim is only the sender's word; MAX_CLIENTS bounds what claims can cost."""
    if key:
        return f"key:{key}"
    signature = envelope.get("signature") if isinstance(envelope, dict) else None
    claimed = signature.get("key_id") if isinstance(signature, dict) else None
    if isinstance(claimed, str) and _KEY_ID.fullmatch(claimed):
        return f"claims:{claimed}"
    return "unsigned"


class RefusalWindow:
    """Refusals since the window opened (at the first refusal after the last summary)."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._reset()

    def _reset(self) -> None:
        self._opened: Optional[float] = None
        self._opened_at = ""
        self._counts: Counter[tuple[str, str]] = Counter()
        self._clients: set[str] = set()
        self._answered = 0
        self._samples: list[dict[str, Any]] = []

    def add(self, client: str, code: str, answered: bool, sample: dict[str, Any]) -> bool:
        """Count one refusal; True when it is one of the first SAMPLES of the window (kept in full)."""
        if self._opened is None:
            self._opened, self._opened_at = self._clock(), now_iso()
        if client not in self._clients:
            if len(self._clients) >= MAX_CLIENTS:
                client = "other"
            self._clients.add(client)
        self._counts[(client, code)] += 1
        self._answered += answered
        if len(self._samples) < SAMPLES:
            self._samples.append({**sample, "client": client, "code": code, "answered": answered})
            return True
        return False

    @property
    def due(self) -> bool:
        return self._opened is not None and self._clock() - self._opened >= self.window_s

    def take(self) -> Optional[dict[str, Any]]:
        """The window's summary (audit detail), and a fresh window; None when nothing was refused."""
        if self._opened is None:
            return None
        counts = [{"client": client, "code": code, "count": n}
                  for (client, code), n in sorted(self._counts.items(), key=lambda item: (-item[1], item[0]))]
        refused = sum(self._counts.values())
        summary = {"outcome": OUTCOME, "from": self._opened_at, "until": now_iso(), "refused": refused,
                   "answered": self._answered, "counts": counts, "samples": self._samples}
        self._reset()
        return summary
