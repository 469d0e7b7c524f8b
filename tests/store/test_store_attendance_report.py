"""`kiosk attendance report`: per person and attendance day, first in, last out, time on site; CSV and XLSX."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest

from kiosk.access.attendance_report import daily_rows
from kiosk.cli import main
from kiosk.config import load_config, parse_config
from kiosk.store import Store


def _clock(when: str, direction: str, person_id: str = "p1", employee_no: str = "E1") -> dict:
    return {"type": "attendance", "event_id": uuid.uuid4().hex, "device_id": "door-1", "device_time": when,
            "person": {"person_id": person_id, "employee_no": employee_no}, "attendance": {"direction": direction}}


def test_first_in_last_out_per_attendance_day() -> None:
    cfg = parse_config({"device": {"timezone": "Europe/Berlin"}, "attendance": {"day_starts_at": "04:00"}})
    events = [_clock("2026-03-02T08:05:00.000+01:00", "in"), _clock("2026-03-02T12:00:00.000+01:00", "out"),
              _clock("2026-03-02T12:40:00.000+01:00", "in"), _clock("2026-03-02T17:35:00.000+01:00", "out"),
              # a night shift: 22:00 to 02:30 is one attendance day (days begin at 04:00)
              _clock("2026-03-03T22:00:00.000+01:00", "in", "p2", "E2"),
              _clock("2026-03-04T02:30:00.000+01:00", "out", "p2", "E2"),
              _clock("2026-03-04T09:00:00.000+01:00", "in"),                       # no clock-out yet
              {"type": "access_granted", "event_id": "0" * 32, "device_time": "2026-03-02T08:05:00+01:00",
               "person": {"person_id": "p1", "employee_no": "E1"}}]
    rows = daily_rows(events, cfg, {"p1": "Ada Lovelace"}.get)
    table = [(r.day, r.employee_no, r.name, r.first_in, r.last_out, r.minutes) for r in rows]
    assert table == [
        (date(2026, 3, 2), "E1", "Ada Lovelace", datetime(2026, 3, 2, 8, 5), datetime(2026, 3, 2, 17, 35), 570),
        (date(2026, 3, 3), "E2", "", datetime(2026, 3, 3, 22, 0), datetime(2026, 3, 4, 2, 30), 270),
        (date(2026, 3, 4), "E1", "Ada Lovelace", datetime(2026, 3, 4, 9, 0), None, None)]
    assert rows[0].values()[6] == "9:30"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nid = "door-1"\ntimezone = "Europe/Berlin"\nstate_dir = "{tmp_path / "state"}"\n'
                    '[attendance]\nday_starts_at = "04:00"\n')
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_command_csv_and_xlsx(capsys, config, tmp_path) -> None:
    C = ("--config", str(config))
    assert _run(capsys, "keys", "init", *C)[0] == 0
    with Store.open(load_config(config)) as store:
        ada = store.add_person(employee_no="E1", name="Ada Lovelace", role="staff")
        for when, direction in (("2026-03-02T03:59:00.000+01:00", "out"),      # belongs to 1 March
                                ("2026-03-02T08:00:00.000+01:00", "in"), ("2026-03-02T16:15:00.000+01:00", "out"),
                                ("2026-03-03T08:00:00.000+01:00", "in")):
            store.record_event(_clock(when, direction, ada.person_id, "E1"))
    code, out, err = _run(capsys, "attendance", "report", *C, "--from", "2026-03-02", "--to", "2026-03-02")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows == [{"day": "2026-03-02", "employee_no": "E1", "name": "Ada Lovelace", "person_id": ada.person_id,
                     "first_in": "2026-03-02 08:00:00", "last_out": "2026-03-02 16:15:00",
                     "time_on_site": "8:15", "minutes_on_site": "495"}]
    book_path = tmp_path / "out" / "march.xlsx"
    assert _run(capsys, "attendance", "report", *C, "--from", "2026-03-01", "--to", "2026-03-31",
                "--format", "xlsx", "--out", str(book_path))[0] == 0
    from openpyxl import load_workbook
    sheet = load_workbook(book_path).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["day", "employee_no", "name"]
    assert [(v[0].date(), v[4], v[5], v[7]) for v in values[1:]] == [
        (date(2026, 3, 1), None, datetime(2026, 3, 2, 3, 59), None),
        (date(2026, 3, 2), datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 2, 16, 15), 495),
        (date(2026, 3, 3), datetime(2026, 3, 3, 8, 0), None, None)]
    with Store.open(load_config(config)) as store:
        assert store.audit_records()[-1]["action"] == "export"


@pytest.mark.parametrize(("argv", "message"), [
    (("--from", "2026-03-02T08:00", "--to", "2026-03-02"), "--from: '2026-03-02T08:00' is not a date (e.g. 2026-12-31)"),
    (("--from", "2026-03-02", "--to", "2026-03-01"), "--to 2026-03-01 is before --from 2026-03-02"),
    (("--from", "2026-03-02", "--to", "2026-03-02", "--format", "xlsx"), "--format xlsx needs --out FILE"),
])
def test_report_errors_are_one_line(capsys, config, argv, message) -> None:
    assert _run(capsys, "keys", "init", "--config", str(config))[0] == 0
    code, _, err = _run(capsys, "attendance", "report", "--config", str(config), *argv)
    assert code == 1 and err.count("\n") == 1 and message in err
