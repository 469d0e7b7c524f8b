"""The simulator's clock: wall time that waits for the kiosk watching the scene.

A simulated scene that runs on the wall clock runs ahead of a kiosk on a busy machine: a walk-up is over before
recognition has seen enough frames or the thermal reader enough subpages, and the verdict depends on the load
instead of the scene. So the simulated devices (the mock camera, the mock MLX90640 and the driver reading it) take
their time from this clock, and with it the frame timestamps every decision timer of the daemon runs on.

The clock runs at wall speed (it starts at the wall clock's reading and is never ahead of it) but is held back by
its participants: each says how far it has got (`mark`), and the clock runs at most the participant's `lag_s`
beyond that. A participant asleep until some time (`sleep`) does not hold the clock before then. One that has held
the clock for `max_hold_s` wall seconds without moving (a stuck reader) is let go until it marks again: a consumer
that stops degrades the scene to real time, it never freezes it.

Mechanism only: which consumers take part, and with what lag, is kiosk/sim/pacing.py.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

log = logging.getLogger("kiosk.sim")

Wait = Callable[[threading.Condition, float], Any]   # blocks on the condition for at most the given wall seconds
MIN_WAIT_S = 0.0005
MAX_WAIT_S = 0.5      # waiters look again at least this often (a hold that ends without a mark)


def _wait(condition: threading.Condition, seconds: float) -> None:
    condition.wait(seconds)


class PacedClock:
    """Monotonic seconds for the simulated devices; `now()` never runs ahead of `wall()`.

    `wall` and `wait` are injected so that tests can drive the clock with fake time.
    """

    def __init__(self, max_hold_s: float = math.inf, *, wall: Callable[[], float] = time.monotonic,
                 wait: Wait = _wait) -> None:
        self.max_hold_s = max_hold_s
        self._wall = wall
        self._wait = wait
        self._condition = threading.Condition()
        self._wall_at = wall()
        self._now = self._wall_at          # the clock's reading at wall time _wall_at
        self._held_since: Optional[float] = None
        self._participants: list[Participant] = []

    def now(self) -> float:
        with self._condition:
            return self._advance()

    def participant(self, name: str, lag_s: float) -> Participant:
        """A consumer that holds the clock once it marks (not before: one that never reads never holds it)."""
        if lag_s <= 0:
            raise ValueError(f"{name}: lag_s must be positive, not {lag_s}")
        participant = Participant(self, name, lag_s)
        with self._condition:
            self._participants.append(participant)
        return participant

    def wait_until(self, t: float, timeout: float) -> bool:
        """Block until `now() >= t` (True) or for at most `timeout` wall seconds (False)."""
        deadline = self._wall() + timeout
        with self._condition:
            while self._advance() < t:
                left = deadline - self._wall()
                if left <= 0:
                    return False
                self._wait(self._condition, min(left, self._wall_until(t)))
            return True

    def waited(self) -> dict[str, float]:
        """Wall seconds the clock has waited, in all (`behind_s`) and for each participant (overlapping)."""
        with self._condition:
            report = {"behind_s": round(self._wall() - self._advance(), 2)}
            for p in self._participants:
                key = f"{p.name.replace(' ', '_')}_s"
                report[key] = round(report.get(key, 0.0) + p.held_s, 2)
            return report

    # -- under the condition's lock ------------------------------------------------------------------------------

    def _limit(self) -> float:
        return min((p.bound for p in self._participants if p.active), default=math.inf)

    def _advance(self) -> float:
        """Bring the clock to the wall clock's present: running 1:1, held at the participants' limit, and letting go
        of the ones that held it for max_hold_s."""
        wall = self._wall()
        while self._wall_at < wall:
            limit = self._limit()
            if self._now < limit:
                reached = self._wall_at + (limit - self._now)
                if reached >= wall:
                    self._now += wall - self._wall_at
                    self._wall_at = wall
                    break
                self._now, self._wall_at, self._held_since = limit, reached, reached
                continue
            if self._held_since is None:
                self._held_since = self._wall_at
            expiry = self._held_since + self.max_hold_s
            holding = [p for p in self._participants if p.active and p.bound <= self._now]
            for p in holding:
                p.held_s += min(expiry, wall) - self._wall_at
            if expiry > wall:
                self._wall_at = wall
                break
            for p in holding:
                p.active = False
                log.warning("simulator: %s held the scene for %.1f s; the scene runs on without it", p.name,
                            self.max_hold_s)
            self._wall_at, self._held_since = expiry, None
        return self._now

    def _wall_until(self, t: float) -> float:
        """Wall seconds after which waiting for `t` is worth checking again (a mark wakes the waiters sooner)."""
        limit = self._limit()
        if self._now < limit:
            wait = min(t, limit) - self._now
        else:
            held_since = self._wall_at if self._held_since is None else self._held_since
            wait = held_since + self.max_hold_s - self._wall_at
        return min(MAX_WAIT_S, max(MIN_WAIT_S, wait))

    def _moved(self, limit_before: float) -> None:
        """A participant's bound changed: a raised limit ends the hold and wakes whoever waits for the clock."""
        if self._limit() > limit_before:
            self._held_since = None
            self._condition.notify_all()


class Participant:
    """One consumer of the scene (the recognition stage, the thermal reader), holding its clock."""

    def __init__(self, clock: PacedClock, name: str, lag_s: float) -> None:
        self.clock = clock
        self.name = name
        self.lag_s = lag_s
        self.active = False
        self.held_s = 0.0                # wall seconds the clock has waited for it, in all
        self._done = -math.inf           # how far it has got
        self._asleep_until = -math.inf   # it needs nothing before this

    @property
    def bound(self) -> float:
        """How far the clock may run before waiting for this participant."""
        return max(self._done, self._asleep_until) + self.lag_s

    def mark(self) -> float:
        """It has caught up with the clock's present (a frame recognised, a reader looking at its device); returns
        now()."""
        clock = self.clock
        with clock._condition:
            now = clock._advance()
            before = clock._limit()
            self._done = max(self._done, now)
            self.active = True
            clock._moved(before)
            return now

    def now(self) -> float:
        """The clock, for a reader whose every look at the time shows it is still going (a driver's `clock`)."""
        return self.mark()

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of the clock's time without holding it meanwhile (a driver's `sleep`)."""
        clock = self.clock
        with clock._condition:
            now = clock._advance()
            before = clock._limit()
            target = now + max(0.0, seconds)
            self._done = max(self._done, now)
            self._asleep_until = target
            self.active = True
            clock._moved(before)
            while clock._advance() < target:
                clock._wait(clock._condition, clock._wall_until(target))
            before = clock._limit()
            self._done = max(self._done, clock._now)
            clock._moved(before)

    def leave(self) -> None:
        """It stops consuming (the daemon stops): the clock no longer waits for it."""
        clock = self.clock
        with clock._condition:
            clock._advance()
            before = clock._limit()
            self.active = False
            clock._moved(before)
