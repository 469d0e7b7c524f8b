"""GET /admin/attendance (the per-day report as a table) and POST /admin/attendance/export (CSV or XLSX).

The rows come from `kiosk attendance report`'s own function (commands.attendance_cmd.report_rows),
audited the same way: a 'view' for the table, an 'export' with the format for a download.
"""
from __future__ import annotations

import io
from datetime import date
from typing import Any

from starlette.responses import Response

from ...access.attendance_report import to_csv, write_xlsx
from ...actions.dates import parse_date
from ...actions.reports import report_rows
from .auth import Context
from .console import actor
from .dashboard import device_time
from .render import render

MAX_DAYS = 366
ROLES = ("", "staff", "visitor")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BadRange(ValueError):
    pass


def _range(context: Context, values: Any) -> tuple[date, date, str]:
    today = device_time(context.console.config.device.timezone).date()
    first = parse_date(values.get("from") or str(today), "from")
    last = parse_date(values.get("to") or str(first), "to")
    if last < first:
        raise BadRange(f"to {last} is before from {first}")
    if (last - first).days >= MAX_DAYS:
        raise BadRange(f"at most {MAX_DAYS} days at once")
    role = values.get("role") or ""
    if role not in ROLES:
        raise BadRange(f"role: '{role}' is not staff or visitor")
    return first, last, role


async def page(context: Context) -> Response:
    query = context.request.query_params
    try:
        first, last, role = _range(context, query)
    except ValueError as exc:
        today = str(device_time(context.console.config.device.timezone).date())
        return render(context, "attendance.html", 400, error=str(exc), rows=[], first=query.get("from", today),
                      last=query.get("to", today), role="", roles=ROLES)
    config = context.console.config
    rows = await context.console.in_store(lambda store: report_rows(
        store, config, first, last, actor=actor(context.session), action="view", role=role or None))
    return render(context, "attendance.html", rows=[r.values() for r in rows], first=str(first), last=str(last),
                  role=role, roles=ROLES)


async def export(context: Context) -> Response:
    fmt = context.text("format")
    values = {key: context.text(key) for key in ("from", "to", "role")}
    try:
        if fmt not in ("csv", "xlsx"):
            raise BadRange(f"format: '{fmt}' is not csv or xlsx")
        first, last, role = _range(context, values)
    except ValueError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    config = context.console.config
    rows = await context.console.in_store(lambda store: report_rows(
        store, config, first, last, actor=actor(context.session), fmt=fmt, role=role or None))
    name = f"attendance-{config.device.id}-{first}-{last}.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"}
    if fmt == "csv":
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    out = io.BytesIO()
    write_xlsx(rows, out, f"Attendance {first} to {last} ({config.device.id})")
    return Response(out.getvalue(), media_type=XLSX, headers=headers)
