"""Noticing another client that connects with this kiosk's client id.

A broker keeps one session per client id: a second client with the same id takes it over and
the first is disconnected, with MQTT 5 reason 0x8E "Session taken over" where the broker sends
one (mosquitto 2.0.11 just closes the socket, also for MQTT 5). So a connection the broker closes
within EARLY_LOSS_S of its CONNACK counts too, unless it had just refused a message: mosquitto 2.0
also closes the connection after a PUBACK "Not authorized" (eclipse-mosquitto/mosquitto#2579), and
the refusal has its own alarm. (When the close resets the socket before the PUBACK is read, the
refusal is not seen and the loss still counts.) Two such clients that both reconnect knock each
other off in turn, and commands reach whichever is connected.
ALARM_THRESHOLD takeovers within ALARM_WINDOW_S raise the alarm; it clears when fewer remain in
the window. The log says so at most once per LOG_INTERVAL_S, with the count in between.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Optional

TAKEN_OVER = 0x8E
EARLY_LOSS_S = 10.0
ALARM = "mqtt_session_taken_over"
ALARM_THRESHOLD = 3
ALARM_WINDOW_S = 300.0
LOG_INTERVAL_S = 60.0


class TakeoverWatch:
    def __init__(self, client_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.client_id = client_id
        self._clock = clock
        self._times: deque[float] = deque()
        self._logged_at: Optional[float] = None
        self._unlogged = 0
        self._reason: Optional[int] = None
        self.total = 0

    def connection_lost(self, reason_code: Optional[int], connected_for_s: float, refusals: int = 0) -> bool:
        """Count a connection the broker closed if it looks taken over; True when it does.

        `refusals`: PUBACKs with a failure reason the connection received."""
        if reason_code != TAKEN_OVER and (connected_for_s >= EARLY_LOSS_S or refusals):
            return False
        self._times.append(self._clock())
        self.total += 1
        self._unlogged += 1
        self._reason = reason_code
        return True

    def report(self) -> Optional[str]:
        """The log line for the takeovers counted since the last one, at most once per LOG_INTERVAL_S."""
        now = self._clock()
        if not self._unlogged or (self._logged_at is not None and now - self._logged_at < LOG_INTERVAL_S):
            return None
        count, self._unlogged, self._logged_at = self._unlogged, 0, now
        what = (f"another client took over the session of client id {self.client_id!r}" if self._reason == TAKEN_OVER
                else f"the broker closed the connection right after connecting, probably for another client with "
                     f"client id {self.client_id!r}")
        return (f"mqtt: {what}: {count} time{'s' if count > 1 else ''} since the last report, {self.recent()} in the "
                f"last {ALARM_WINDOW_S:.0f} s")

    def recent(self) -> int:
        """Takeovers within the last ALARM_WINDOW_S."""
        now = self._clock()
        while self._times and now - self._times[0] > ALARM_WINDOW_S:
            self._times.popleft()
        return len(self._times)

    @property
    def alarm(self) -> bool:
        return self.recent() >= ALARM_THRESHOLD
