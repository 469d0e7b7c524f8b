"""[device]: identity of this kiosk and where it keeps its state."""
from __future__ import annotations

import difflib
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator

from .base import Section


class DeviceRole(StrEnum):
    entry = "entry"
    exit = "exit"
    both = "both"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class DeviceConfig(Section):
    id: str = Field("kiosk-1", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                    description="Device id, used in MQTT topics and events (letters, digits, _ . -).")
    role: DeviceRole = Field(DeviceRole.both, description="Door role: entry, exit or both (drives clock-in/out).")
    state_dir: Path = Field(Path("/var/lib/kiosk"),
                            description="Writable state: database, models, keys, calibration. Relative paths are "
                                        "taken from the working directory.")
    timezone: str = Field("localtime", description="IANA zone for schedules and 'day' boundaries, or 'localtime'.")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = Field(LogFormat.text, description="text (key=value) or json, one line per record.")

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        """An unknown zone would pass start-up and fail at the first verdict (schedules, attendance day)."""
        if value == "localtime":
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, available_timezones(), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown time zone{hint}; give an IANA name like 'Europe/Berlin', or 'localtime'") from None
        return value
