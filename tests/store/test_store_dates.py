"""Command-line dates: a plain date or a time without offset is device local time, errors show the forms."""
from __future__ import annotations

import argparse
from datetime import date, time

import pytest

from kiosk.actions.dates import day_start, parse_date
from kiosk.actions.errors import CommandError
from kiosk.commands.dates import time_range
from kiosk.store.clock import parse_iso


def _range(tmp_path, since, until, timezone="Europe/Berlin"):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[device]\ntimezone = "{timezone}"\nstate_dir = "{tmp_path}"\n')
    return time_range(argparse.Namespace(config=config, since=since, until=until))


def test_a_plain_date_is_the_device_day(tmp_path) -> None:
    assert _range(tmp_path, "2026-01-01", "2026-07-01") == ("2025-12-31T23:00:00.000000+00:00",
                                                            "2026-07-01T22:00:00.000000+00:00")
    assert _range(tmp_path, "2026-01-01T08:30", None, "America/New_York") == ("2026-01-01T13:30:00.000000+00:00", None)
    assert _range(tmp_path, None, "2026-01-01T08:30+00:00") == (None, "2026-01-01T08:30:00.000000+00:00")


@pytest.mark.parametrize("text", ["monday", "2026-13-01", "01.02.2026"])
def test_bad_dates_name_the_option_and_the_forms(tmp_path, text: str) -> None:
    with pytest.raises(CommandError, match=rf"^--from: '{text}' is not a date or an ISO time \(e\.g\. 2026-12-31 or "):
        _range(tmp_path, text, None)
    with pytest.raises(ValueError, match=rf"^--to: '{text}' is not a date \(e\.g\. 2026-12-31\)$"):
        parse_date(text, "--to")


def test_attendance_days_begin_at_day_starts_at() -> None:
    assert parse_date("2026-03-29", "--from") == date(2026, 3, 29)
    assert day_start(date(2026, 3, 29), "Europe/Berlin", time(4, 0)).isoformat() == "2026-03-29T04:00:00+02:00"


def test_the_store_hint_for_a_plain_date_is_valid_iso() -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 2026-01-01T00:00\+00:00\)") as caught:
        parse_iso("2026-01-01")
    hint = str(caught.value).split("write e.g. ")[1].rstrip(")")
    assert parse_iso(hint).isoformat() == "2026-01-01T00:00:00+00:00"
