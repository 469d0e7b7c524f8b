"""What the records say, for the command line and the console: attendance rows and who an event is about."""
from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any, Optional

from .dates import day_start


def report_rows(store: Any, config: Any, first: date, last: date, *, actor: str, action: str = "export",
                fmt: Optional[str] = None, role: Optional[str] = None) -> list[Any]:
    """The report's rows for attendance days first..last (persons of `role` only, when given), audited as
    `action` ('export', or 'view' for the console's table) with `actor`. The CLI and the console share it."""
    from ..access.attendance_report import daily_rows

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


def who(event: dict[str, Any]) -> str:
    """The identified person, or "candidate E001" for a face that was not identified, or "-"."""
    person, candidate = event.get("person") or {}, event.get("candidate") or {}
    if person:
        return f"{person['name']} ({person.get('employee_no')})" if person.get("name") else str(person.get("employee_no"))
    return f"candidate {candidate.get('employee_no')}" if candidate else "-"
