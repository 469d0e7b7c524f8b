"""`--from`/`--to` ranges given on the command line (attendance days: kiosk.actions.dates).

A plain date (2026-01-01) or a time without an offset is device local time (`device.timezone`), as for
the person options (`kiosk.actions.person_options.parse_when`, which does the parsing); as `--to`, a plain
date includes that whole day."""
from __future__ import annotations

import argparse
from typing import Optional

from ..actions.person_options import parse_when

DATE_HELP = "a date or an ISO time, device time unless it has an offset"


def time_range(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    """`--from` / `--to` (args.since, args.until) as UTC ISO times; a one-line CommandError if one is bad."""
    from ..cli import load

    timezone = load(args).device.timezone
    since = parse_when("--from", args.since, timezone) if args.since else None
    until = parse_when("--to", args.until, timezone, end_of_day=True) if args.until else None
    return since, until


