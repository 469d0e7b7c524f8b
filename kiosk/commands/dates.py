"""Dates and times given on the command line: `--from`/`--to` ranges and attendance days.

A plain date (2026-01-01) or a time without an offset is device local time (`device.timezone`), as for
the person options (`person_options.parse_when`, which does the parsing); as `--to`, a plain date
includes that whole day."""
from __future__ import annotations

import argparse
from datetime import date, datetime, time
from typing import Optional
from zoneinfo import ZoneInfo

from .person_options import EXAMPLE, parse_when

DATE_HELP = "a date or an ISO time, device time unless it has an offset"


def time_range(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    """`--from` / `--to` (args.since, args.until) as UTC ISO times; a one-line CommandError if one is bad."""
    from ..cli import load

    timezone = load(args).device.timezone
    since = parse_when("--from", args.since, timezone) if args.since else None
    until = parse_when("--to", args.until, timezone, end_of_day=True) if args.until else None
    return since, until


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
