"""Login rate limit and lockout, per account name and per client address.

Five wrong passwords for one name lock that name for 15 minutes, whoever tries it (unknown names
too, so a lockout does not tell which names exist); twenty failures from one address within 15
minutes lock that address. A success clears the name's count, not the address's. In memory: a
daemon restart forgets them, which an attacker on the LAN cannot cause.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Optional

ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW_S = 900.0
LOCKOUT_S = 900.0
MAX_KEYS = 10_000        # names and addresses remembered at most (the oldest are forgotten first)


class _Counter:
    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self.failures: dict[str, deque[float]] = {}
        self.locked_until: dict[str, float] = {}

    def wait(self, key: str) -> Optional[float]:
        until = self.locked_until.get(key)
        if until is None:
            return None
        left = until - self.clock()
        if left > 0:
            return left
        del self.locked_until[key]
        return None

    def fail(self, key: str) -> bool:
        """Count a failure; True when this one locks the key."""
        now = self.clock()
        times = self.failures.pop(key, deque())
        times.append(now)
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        self.failures[key] = times          # re-inserted: the dict's order is least recently failed first
        while len(self.failures) > MAX_KEYS:
            del self.failures[next(iter(self.failures))]
        if len(times) >= self.limit:
            self.failures.pop(key)
            self.locked_until[key] = now + LOCKOUT_S
            return True
        return False

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class LoginLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = _Counter(ACCOUNT_FAILURES, clock)
        self.addresses = _Counter(ADDRESS_FAILURES, clock)

    def wait(self, name: str, address: str) -> Optional[float]:
        """Seconds until this name may try again from this address; None when it may now."""
        waits = [w for w in (self.accounts.wait(name.lower()), self.addresses.wait(address)) if w is not None]
        return max(waits) if waits else None

    def failed(self, name: str, address: str) -> bool:
        """Count a wrong password; True when it locked the name or the address."""
        account = self.accounts.fail(name.lower())
        return self.addresses.fail(address) or account

    def succeeded(self, name: str) -> None:
        self.accounts.clear(name.lower())
