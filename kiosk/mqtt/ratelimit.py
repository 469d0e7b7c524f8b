"""Per-client token buckets: how many refused requests are answered.

An answer to a refused request costs a publish (and a signature) and can be larger than the
request, so a sender flooding the command topic is answered at a bounded rate; what it is not
answered is still counted (`refusals.RefusalWindow`).
"""
from __future__ import annotations

import time
from collections.abc import Callable

RATE_PER_S = 2.0       # answers per second and client, once the burst is spent
BURST = 20             # answers a client gets at once
MAX_CLIENTS = 64       # buckets kept; further clients share one bucket
SHARED = "other"


class ReplyLimiter:
    def __init__(self, rate_per_s: float = RATE_PER_S, burst: int = BURST, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}   # client -> (tokens, when counted)

    def allow(self, client: str) -> bool:
        """Take one answer from the client's bucket; False when it is empty."""
        now = self._clock()
        if client not in self._buckets and len(self._buckets) >= self.max_clients:
            self._forget_refilled(now)
            if len(self._buckets) >= self.max_clients:
                client = SHARED
        tokens, when = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate_per_s)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def _forget_refilled(self, now: float) -> None:
        """Drop buckets that are full again: they hold no state worth keeping."""
        for client, (tokens, when) in list(self._buckets.items()):
            if client != SHARED and tokens + (now - when) * self.rate_per_s >= self.burst:
                del self._buckets[client]
