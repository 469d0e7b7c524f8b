"""Attendance days as typed: a plain date, and when a day begins on the device."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from .person_options import EXAMPLE


def parse_date(text: str, option: str) -> date:
    """A plain YYYY-MM-DD date; ValueError naming the option and showing the form."""
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option}: '{text}' is not a date ({EXAMPLE.split(' or ')[0]})") from None


def day_start(day: date, timezone: str, starts_at: time = time(0)) -> datetime:
    """When `day` begins on the device: `starts_at` local time of `device.timezone`."""
    naive = datetime.combine(day, starts_at)
    return naive.astimezone() if timezone == "localtime" else naive.replace(tzinfo=ZoneInfo(timezone))
