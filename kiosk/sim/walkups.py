"""The walk-up script: who comes to the kiosk, when, how close, and what they really are.

Time is scene time in seconds (the simulator's clock, kiosk/sim/clock.py, multiplied by `sim.speed`). Each walk-up is an empty
gap, an approach, a dwell in front of the kiosk and a leave.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Optional


class Presentation(StrEnum):
    live = "live"    # a real, warm person
    photo = "photo"  # a printed photo held up at room temperature
    screen = "screen"  # a phone or tablet screen showing the face


@dataclass(frozen=True)
class WalkUp:
    kind: str           # staff, visitor, fever, photo, mask
    person: str         # cast key (see assets.CAST)
    photo: str          # file in the assets directory that the camera shows
    body_c: float       # true core temperature of the subject (ignored for photos/screens)
    presentation: Presentation = Presentation.live
    mask: bool = False
    mirror: bool = False  # show the photo mirrored (a second view of a single enrollment photo)


# The five scripted walk-ups of the demo and of the end-to-end test.
WALKUPS: dict[str, WalkUp] = {
    "staff": WalkUp("staff", "obama", "obama_walkup.jpg", 36.8),
    "visitor": WalkUp("visitor", "biden", "biden.jpg", 36.6),
    "fever": WalkUp("fever", "collins", "collins.png", 38.6, mirror=True),
    "photo": WalkUp("photo", "obama", "obama_enroll.jpg", 22.0, presentation=Presentation.photo),
    "mask": WalkUp("mask", "obama", "obama_walkup.jpg", 36.7, mask=True),
}


@dataclass(frozen=True)
class SubjectState:
    """Where the current subject is at one instant (camera coordinates, metres)."""

    walkup: WalkUp
    index: int          # position of this walk-up in the script, counting loops
    phase: str          # approach, dwell, leave
    distance_m: float   # along the camera axis
    lateral_m: float    # to the right of the camera axis as seen by the camera
    height_m: float     # face centre above the camera axis


@dataclass(frozen=True)
class Timing:
    approach_s: float = 2.0
    dwell_s: float = 4.0
    leave_s: float = 1.0
    gap_s: float = 2.5
    start_m: float = 1.8   # distance when the face first appears
    stand_m: float = 0.55  # distance while standing at the kiosk

    @property
    def period_s(self) -> float:
        return self.approach_s + self.dwell_s + self.leave_s + self.gap_s


class Script:
    def __init__(self, walkups: Sequence[WalkUp], timing: Timing = Timing(), loop: bool = True) -> None:
        if not walkups:
            raise ValueError("the script needs at least one walk-up")
        self.walkups = list(walkups)
        self.timing = timing
        self.loop = loop

    @classmethod
    def from_names(cls, names: Sequence[str], timing: Timing = Timing(), loop: bool = True) -> Script:
        unknown = [n for n in names if n not in WALKUPS]
        if unknown:
            raise ValueError(f"unknown walk-up {unknown[0]!r} (known: {', '.join(WALKUPS)})")
        return cls([WALKUPS[n] for n in names], timing, loop)

    @property
    def duration_s(self) -> float:
        return self.timing.period_s * len(self.walkups)

    def at(self, t: float) -> Optional[SubjectState]:
        """The subject in front of the kiosk at scene time `t`, or None when nobody is there."""
        if t < 0 or (not self.loop and t >= self.duration_s):
            return None
        timing = self.timing
        index = int(t // timing.period_s)
        local = t - index * timing.period_s
        walkup = self.walkups[index % len(self.walkups)]
        if local < timing.gap_s:
            return None   # nobody yet: each walk-up begins with an empty scene
        local -= timing.gap_s
        if local < timing.approach_s:
            progress = local / timing.approach_s
            eased = 1 - (1 - progress) ** 2
            distance = timing.start_m + (timing.stand_m - timing.start_m) * eased
            return SubjectState(walkup, index, "approach", distance, 0.05 * (1 - eased), 0.0)
        local -= timing.approach_s
        if local < timing.dwell_s:
            sway = 0.01 * math.sin(2 * math.pi * local / 3.0)  # people never stand perfectly still
            return SubjectState(walkup, index, "dwell", timing.stand_m, sway, 0.005 * math.sin(local))
        progress = (local - timing.dwell_s) / timing.leave_s
        return SubjectState(walkup, index, "leave", timing.stand_m + 0.4 * progress, 0.6 * progress ** 2, 0.0)
