"""The daily attendance report: per person and attendance day, first clock-in, last clock-out, time on site.

Built from the `attendance` events of the local log. A day is an attendance day (it begins at
`attendance.day_starts_at`, device time zone), so a night shift stays on one row. Time on site is
last out minus first in (breaks are not subtracted); it is empty when either end is missing, e.g. on
an entry-only kiosk whose clock-outs are recorded by another device.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Optional

from ..config import KioskConfig
from .attendance import attendance_day

COLUMNS = ("day", "employee_no", "name", "person_id", "first_in", "last_out", "time_on_site", "minutes_on_site")


@dataclass(frozen=True)
class DayRow:
    day: date
    person_id: str
    employee_no: str
    name: str
    first_in: Optional[datetime]        # device local time (naive)
    last_out: Optional[datetime]

    @property
    def minutes(self) -> Optional[int]:
        if self.first_in is None or self.last_out is None or self.last_out <= self.first_in:
            return None
        return round((self.last_out - self.first_in).total_seconds() / 60)

    def values(self) -> tuple[Any, ...]:
        minutes = self.minutes
        return (self.day, self.employee_no, self.name, self.person_id, self.first_in, self.last_out,
                None if minutes is None else f"{minutes // 60}:{minutes % 60:02d}", minutes)


def daily_rows(events: Iterable[Mapping[str, Any]], config: KioskConfig,
               name_of: Callable[[str], Optional[str]] = lambda _: None) -> list[DayRow]:
    """One row per person and attendance day, ordered by day then employee number."""
    days: dict[tuple[date, str], dict[str, Any]] = {}
    for event in events:
        person, direction = event.get("person") or {}, (event.get("attendance") or {}).get("direction")
        if event.get("type") != "attendance" or "person_id" not in person or direction not in ("in", "out"):
            continue
        at = datetime.fromisoformat(event["device_time"])
        local = at.replace(tzinfo=None)            # device_time is written in the device's time zone
        entry = days.setdefault((attendance_day(at, config), person["person_id"]),
                                {"employee_no": str(person.get("employee_no") or ""), "in": None, "out": None})
        if direction == "in" and (entry["in"] is None or local < entry["in"]):
            entry["in"] = local
        if direction == "out" and (entry["out"] is None or local > entry["out"]):
            entry["out"] = local
    rows = [DayRow(day, pid, e["employee_no"], name_of(pid) or "", e["in"], e["out"])
            for (day, pid), e in days.items()]
    return sorted(rows, key=lambda r: (r.day, r.employee_no, r.person_id))


def to_csv(rows: Iterable[DayRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if v is None else v.isoformat(sep=" ") if isinstance(v, datetime) else v
                         for v in row.values()])
    return out.getvalue()


def write_xlsx(rows: Iterable[DayRow], path: Path | BinaryIO, title: str) -> None:
    """An .xlsx workbook with one sheet (dates and times as spreadsheet dates, minutes as numbers), to a file
    or a binary stream (the console's download)."""
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)   # a new workbook's one sheet
    sheet.title = "attendance"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append(list(row.values()))
    for letter, width, fmt in (("A", 12, "yyyy-mm-dd"), ("E", 20, "yyyy-mm-dd hh:mm:ss"),
                               ("F", 20, "yyyy-mm-dd hh:mm:ss")):
        sheet.column_dimensions[letter].width = width
        for cell in sheet[letter][1:]:
            cell.number_format = fmt
    sheet.freeze_panes = "A2"
    book.properties.title = title
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
