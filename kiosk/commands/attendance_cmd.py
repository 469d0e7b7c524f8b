"""`kiosk attendance report`: first in, last out and time on site per person and attendance day."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..actions.dates import parse_date
from ..actions.reports import report_rows
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


@one_line_errors
def _report(args: argparse.Namespace) -> int:
    from ..access.attendance_report import to_csv, write_xlsx
    from ..actions.errors import CommandError
    from ..cli import load
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
