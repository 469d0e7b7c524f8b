"""[health] and [sim]: watchdog, health reporting and the scene simulator."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

from .base import Section


class HealthConfig(Section):
    interval_s: float = Field(5.0, gt=0, le=3600, description="How often health is computed (alarms, MQTT, watchdog).")
    log_interval_s: float = Field(60.0, gt=0, le=86400, description="How often a health line is logged; a change "
                                                                    "of the alarms is logged at once.")
    stall_s: float = Field(10.0, gt=0, le=3600, description="Pipeline without a result this long counts as stalled "
                                                            "(the systemd watchdog is then no longer fed).")
    frame_queue: int = Field(2, ge=1, le=64, description="Frames buffered between capture and recognition; "
                                                         "older frames are dropped.")


class SimConfig(Section):
    assets_dir: Optional[Path] = Field(None, description="Demo photos; unset = <state_dir>/sim.")
    walkups: list[str] = Field(default_factory=lambda: ["staff", "visitor", "fever", "photo", "mask"],
                               description="Walk-ups to play, in order: staff, visitor, fever, photo, mask.")
    loop: bool = Field(True, description="Start over after the last walk-up.")
    speed: float = Field(1.0, gt=0, le=20, description="Time scale of the scene (2 = twice as fast).")
    room_c: float = Field(22.0, ge=0, le=40, description="Room temperature of the simulated scene.")
    dwell_s: float = Field(4.0, gt=0, le=600, description="How long each person stands at the kiosk.")
    paced: bool = Field(True, description="The scene waits for the kiosk: real time while recognition and the "
                                          "thermal reader keep up, slower when they fall behind (a busy machine), "
                                          "so a walk-up is decided the same under load; false = wall-clock time.")
