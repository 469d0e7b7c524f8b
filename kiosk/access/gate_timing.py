"""When the gate relay should switch: the pulse timer of `kiosk.access.gate.GateController`, kept pure.

`PulseTimer` holds no clock and no thread: every call takes the time, so the rules (a grant
while unlocked extends the pulse, a pulse is timed from when the relay switched, a failed
release is retried every `retry_lock_s`) are tested with made-up times. The controller's worker
thread asks `next_change(now)`, switches the relay when a change is due and reports back with
`switching` and then `switched` or `failed`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

RETRY_LOCK_S = 0.5  # how often a failed release is retried
MAX_PULSE_S = 60.0  # no grant keeps the gate open longer (gate.pulse_s is limited to this too)


@dataclass(frozen=True)
class Change:
    at: float          # when the relay should switch (at or before `now`: at once)
    unlocked: bool     # to which state


class PulseTimer:
    """Grants, locks and the relay's reported switches in; the next relay change out."""

    def __init__(self, retry_lock_s: float = RETRY_LOCK_S, max_pulse_s: float = MAX_PULSE_S) -> None:
        self.retry_lock_s = retry_lock_s
        self.max_pulse_s = max_pulse_s
        self.unlocked = False                   # the state the relay last reported applied
        self.locked_at: Optional[float] = None  # when the last unlocked-to-locked switch was made
        self._in_flight: Optional[bool] = None  # the switch being made now
        self._starting = 0.0                    # pulse length of the unlock in flight
        self._pending: Optional[float] = None   # pulse asked for while no pulse could be extended
        self._deadline = 0.0                    # when the current pulse ends (while unlocked)
        self._retry_at: Optional[float] = None  # a failed release is not retried before this

    # commands ----------------------------------------------------------------------------------
    def grant(self, now: float, pulse_s: float) -> None:
        """Unlock for `pulse_s` (at most max_pulse_s): extend the pulse, or ask for one timed from the switch."""
        pulse = min(self.max_pulse_s, pulse_s)
        if self.unlocked and self._in_flight is None:
            self._deadline = max(self._deadline, now + pulse)
        else:
            self._pending = max(self._pending or 0.0, pulse)

    def lock(self, now: float) -> None:
        """End any pulse now, forget grants not yet applied, retry a failing release at once."""
        self._pending = None
        self._starting = 0.0
        self._retry_at = None
        self._deadline = now

    # the worker's side -------------------------------------------------------------------------
    def next_change(self, now: float) -> Optional[Change]:
        """The next switch to make (None: none until a command arrives, or while one is in flight)."""
        if self._in_flight is not None:
            return None
        if not self.unlocked:
            return Change(now, True) if self._pending is not None else None
        end = self._deadline if self._retry_at is None else max(self._deadline, self._retry_at)
        return Change(end, False)

    def switching(self, unlocked: bool) -> None:
        """The worker starts making a switch (grants meanwhile are kept apart from its pulse)."""
        self._in_flight = unlocked
        if unlocked:
            self._starting, self._pending = self._pending or 0.0, None

    def switched(self, at: float, unlocked: bool) -> None:
        """The switch started at `at` worked. A pulse is timed from `at`, so the release, sent the
        same way, comes exactly pulse_s later."""
        self._in_flight = None
        self._retry_at = None
        self.unlocked = unlocked
        if unlocked:
            self._deadline = at + max(self._starting, self._pending or 0.0)  # with grants made during the switch
            self._starting, self._pending = 0.0, None
        else:
            self.locked_at = at

    def failed(self, now: float, unlocked: bool) -> None:
        """The switch failed at `now`. An unlock is not retried (the person tries again); a release
        is retried every retry_lock_s until it works."""
        self._in_flight = None
        if unlocked:
            self._starting = 0.0
            return
        self._retry_at = now + self.retry_lock_s
        pending, self._pending = self._pending, None
        if pending is not None:                 # granted while the release was being tried
            self.grant(now, pending)
