"""How the simulated scene waits for the kiosk (the policy; kiosk/sim/clock.py is the mechanism).

Two consumers hold the scene's clock, each by the slack it tolerates:

- recognition may take `recognition_lead_s` of scene time per frame (the scene runs at most that far past the
  moment it finished the last one): an idle kiosk takes less and is never held, a busy one still recognises a frame
  every `recognition_lead_s` of scene time (5 a second; an idle one here recognises 13 of the 15 camera frames).
- the thermal reader runs in lock-step: the scene runs at most a sixteenth of a subpage period past its last look
  at the clock. The driver pairs two subpages only when it acknowledged the first before the second was measured,
  and schedules its next look from when it saw the last subpage; with more slack, a reader starved of CPU sees
  subpages late, its schedule drifts and it discards most of them (checked under four busy loops on two cores).

A consumer that holds the scene for `max_hold_s` without moving (it stopped, or a device is reopening) is let go:
the scene then runs in real time, as it did before pacing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..config import KioskConfig
from ..config.thermal import MockThermalConfig

RECOGNITION_LEAD_S = 0.2
RECOGNITION_LEAD_FRAMES = 2       # at least this many camera periods, or the camera could not get a frame ahead
THERMAL_LAG_PERIODS = 1 / 16
MAX_HOLD_S = 5.0


@dataclass(frozen=True)
class Pacing:
    recognition_lead_s: float
    thermal_lag_s: Optional[float]        # None: no thermal sensor
    max_hold_s: float = MAX_HOLD_S


def pacing_for(config: KioskConfig) -> Optional[Pacing]:
    """The pacing of the configured simulator. None, the scene on the wall clock: `sim.paced = false`, or a real
    device beside a simulated one (its frames carry time.monotonic, which the scene's timestamps must stay
    comparable with for the thermal alignment; a held scene would drift away from it)."""
    thermal = config.thermal
    if not config.sim.paced or config.camera.backend != "mock" or thermal.backend not in ("mock", "none"):
        return None
    lead = max(RECOGNITION_LEAD_S, RECOGNITION_LEAD_FRAMES / config.camera.fps)
    lag = THERMAL_LAG_PERIODS / thermal.refresh_hz if isinstance(thermal, MockThermalConfig) else None
    return Pacing(lead, lag)
