"""`kiosk attendance report`: first in, last out and time on site per person and attendance day."""
from __future__ import annotations

import argparse
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, Optional

from .dates import day_start, parse_date
from .store_common import actor, one_line_errors, write_output


def register(subparsers, common) -> None:
    attendance = subparsers.add_parser("attendance", help="attendance reports from the local event log")
    actions = attendance.add_subparsers(dest="action", metavar="ACTION", required=True)
    report = actions.add_parser("report", parents=[common],
                                help="per person and day: first in, last out, time on site (CSV or XLSX)")
    report.add_argument("--from", dest="since", required=True, metavar="DATE",
                        help="first attendance day, e.g. 2026-01-01 (days begin at attendance.day_starts_at)")
    report.add_argument("--to", dest="until", required=True, metavar="DATE", help="last attendance day (included)")
    report.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    report.add_argument("--out", type=Path, help="output file (default stdout; required for xlsx)")
    report.set_defaults(handler=_report)


def report_rows(store: Any, config: Any, first: date, last: date, *, actor: str, action: str = "export",
                fmt: Optional[str] = None, role: Optional[str] = None) -> list[Any]:
    """The report's rows for attendance days first..last (persons of `role` only, when given), audited as
    `action` ('export', or 'view' for the console's table) with `actor`. The CLI and the console share it."""
    from ..attendance_report import daily_rows

    starts, tz = time.fromisoformat(config.attendance.day_starts_at), config.device.timezone
    since = day_start(first, tz, starts).isoformat()
    until = day_start(last + timedelta(days=1), tz, starts).isoformat()
    events = store.events(since=since, until=until, types=["attendance"])
    persons: dict[str, Any] = {}

    def person(person_id: str) -> Any:
        if person_id not in persons:
            persons[person_id] = store.person_by_id(person_id)
        return persons[person_id]

    def name_of(person_id: str) -> str | None:
        found = person(person_id)
        return None if found is None or found.deleted else found.name

    rows = daily_rows(events, config, name_of)
    if role:
        rows = [r for r in rows if (found := person(r.person_id)) is not None and found.role == role]
    detail: dict[str, Any] = {"what": "attendance report", "from": str(first), "to": str(last), "rows": len(rows)}
    if fmt:
        detail["format"] = fmt
    if role:
        detail["role"] = role
    store.audit(action, actor=actor, detail=detail)
    return rows


@one_line_errors
def _report(args: argparse.Namespace) -> int:
    from ..attendance_report import to_csv, write_xlsx
    from ..cli import CommandError, load
    from ..store import Store

    config = load(args)
    try:
        first, last = parse_date(args.since, "--from"), parse_date(args.until, "--to")
    except ValueError as exc:   # a time is not a day: the report is by attendance day
        raise CommandError(str(exc)) from None
    if last < first:
        raise CommandError(f"--to {last} is before --from {first}")
    if args.format == "xlsx" and args.out is None:
        raise CommandError("--format xlsx needs --out FILE (a workbook is not written to the terminal)")
    with Store.open(config) as store:
        rows = report_rows(store, config, first, last, actor=actor(), fmt=args.format)
    if args.format == "xlsx":
        write_xlsx(rows, args.out, f"Attendance {first} to {last} ({config.device.id})")
    else:
        write_output(to_csv(rows), args.out)
    return 0
