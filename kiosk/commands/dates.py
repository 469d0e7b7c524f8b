"""Dates and times given on the command line (`--from`, `--to`).

A plain date (2026-01-01) or a time without an offset (2026-01-01T08:00) is device local time
(`device.timezone`); a time with an offset is taken as it is. As `--to`, a plain date includes that
whole day (the range ends where the next day begins)."""
from __future__ import annotations

import argparse
import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Optional
from zoneinfo import ZoneInfo

DATE_HELP = "2026-01-31, 2026-01-31T08:00 in device time, or with an offset"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def device_zone(timezone: str) -> Optional[tzinfo]:
    """The zone of `device.timezone` (None for "localtime": the system's zone, as `datetime.astimezone` reads it)."""
    return None if timezone == "localtime" else ZoneInfo(timezone)


def localize(moment: datetime, timezone: str) -> datetime:
    """A naive device-local time made aware (aware times are returned as they are)."""
    if moment.tzinfo is not None:
        return moment
    zone = device_zone(timezone)
    return moment.astimezone() if zone is None else moment.replace(tzinfo=zone)


def day_start(day: date, timezone: str, starts_at: time = time(0)) -> datetime:
    """When `day` begins on the device (at `starts_at` local time)."""
    return localize(datetime.combine(day, starts_at), timezone)


def parse_date(text: str, option: str) -> date:
    """A plain YYYY-MM-DD date; ValueError naming the option and showing the form."""
    try:
        if not _DATE.fullmatch(text.strip()):
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} '{text}' is not a date; write e.g. 2026-01-31") from None


def parse_bound(text: Optional[str], timezone: str, option: str, *, end: bool = False) -> Optional[str]:
    """`text` as an ISO time with an offset (None stays None); ValueError with the accepted forms."""
    if text is None:
        return None
    value = text.strip()
    try:
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            return day_start(day + timedelta(days=1) if end else day, timezone).isoformat()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{option} '{text}' is not a date or time; write e.g. 2026-01-31, 2026-01-31T08:00 "
                         f"(device time, {timezone}) or 2026-01-31T08:00+01:00") from None
    return localize(moment, timezone).isoformat()


def time_range(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    """`--from` / `--to` (args.since, args.until) as ISO times with offsets; a one-line CommandError if bad."""
    from ..cli import CommandError, load

    timezone = load(args).device.timezone
    try:
        return parse_bound(args.since, timezone, "--from"), parse_bound(args.until, timezone, "--to", end=True)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
