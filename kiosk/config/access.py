"""[access]: who may pass when (schedules per role)."""
from __future__ import annotations

import re

from pydantic import Field, field_validator

from .base import Section

_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))? "
                     r"([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$")


class AccessConfig(Section):
    schedules: dict[str, list[str]] = Field(
        default_factory=lambda: {"staff": ["mon-sun 00:00-24:00"], "visitor": ["mon-fri 08:00-18:00"]},
        description="Per role, the weekly windows in which access is allowed, e.g. 'mon-fri 07:00-19:00'. "
                    "A role without an entry is never allowed.")

    @field_validator("schedules")
    @classmethod
    def _windows_are_well_formed(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, windows in value.items():
            for window in windows:
                if not _WINDOW.match(window.strip().lower()):
                    raise ValueError(f"{role}: '{window}' is not a window like 'mon-fri 07:00-19:00'")
        return value
