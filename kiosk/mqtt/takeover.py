"""Noticing another client that connects with this kiosk's client id.

A broker keeps one session per client id: a second client with the same id takes it over and
the first is disconnected (MQTT 5: DISCONNECT with reason 0x8E "Session taken over"; MQTT 3.1.1:
the socket just closes, so a connection lost soon after its CONNACK counts). Two such clients
that both reconnect knock each other off in turn, and commands reach whichever is connected.
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
    def __init__(self, client_id: str, v5: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.client_id = client_id
        self.v5 = v5
        self._clock = clock
        self._times: deque[float] = deque()
        self._logged_at: Optional[float] = None
        self._unlogged = 0
        self.total = 0

    def connection_lost(self, reason_code: Optional[int], connected_for_s: float) -> Optional[str]:
        """Count a lost connection if it was taken over; returns a log line when one is due."""
        taken = reason_code == TAKEN_OVER if self.v5 else connected_for_s < EARLY_LOSS_S
        if not taken:
            return None
        now = self._clock()
        self._times.append(now)
        self.total += 1
        self._unlogged += 1
        if self._logged_at is not None and now - self._logged_at < LOG_INTERVAL_S:
            return None
        count, self._unlogged, self._logged_at = self._unlogged, 0, now
        what = "the session was taken over" if self.v5 else "the connection was closed right after connecting"
        return (f"mqtt: {what} {count} time{'s' if count > 1 else ''} since the last report ({self.recent()} in "
                f"{ALARM_WINDOW_S:.0f} s): another client uses client id {self.client_id!r}")

    def recent(self) -> int:
        """Takeovers within the last ALARM_WINDOW_S."""
        now = self._clock()
        while self._times and now - self._times[0] > ALARM_WINDOW_S:
            self._times.popleft()
        return len(self._times)

    @property
    def alarm(self) -> bool:
        return self.recent() >= ALARM_THRESHOLD
