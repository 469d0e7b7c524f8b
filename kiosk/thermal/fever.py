"""Fever screening over repeated readings of one person: a verdict only on good readings.

Same rule as the gate policy (kiosk.access.policy): only readings with quality >= temperature.min_quality
count; the latest good reading below the threshold clears the person; a fever is confirmed only
when the last `temperature.confirm_readings` good readings are all at or above the threshold.
Until then the state says what to ask the person ("come closer", "stand still").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..config.temperature import TemperatureConfig
from ..types import TemperatureReading


@dataclass(frozen=True)
class FeverState:
    fever: Optional[bool]        # None = no good reading yet
    confirmed: bool              # False while a fever waits for its confirming readings
    good_readings: int
    body_c: Optional[float]      # mean of the readings the verdict rests on
    reason: Optional[str] = None  # what to ask the person while there is no verdict


class FeverScreen:
    """Feed every reading of the person in front of the kiosk; `reset` when they leave."""

    def __init__(self, config: TemperatureConfig) -> None:
        self.config = config
        self._good: list[float] = []

    def reset(self) -> None:
        self._good.clear()

    def update(self, reading: TemperatureReading) -> FeverState:
        cfg = self.config
        if reading.body_c is not None and reading.quality >= cfg.min_quality:
            self._good.append(reading.body_c)
        if not self._good:
            return FeverState(None, False, 0, None, reading.reason or "stand still")
        latest = self._good[-1]
        if latest < cfg.fever_threshold_c:
            return FeverState(False, True, len(self._good), latest)
        run = []
        for body in reversed(self._good):
            if body < cfg.fever_threshold_c:
                break
            run.append(body)
        confirmed = len(run) >= cfg.confirm_readings
        recent = run[:cfg.confirm_readings]
        return FeverState(True, confirmed, len(self._good), round(sum(recent) / len(recent), 2),
                          None if confirmed else "stand still")
