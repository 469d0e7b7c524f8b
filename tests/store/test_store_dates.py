"""Command-line dates: a plain date or a time without offset is device local time, errors show the forms."""
from __future__ import annotations

import pytest

from kiosk.commands.dates import parse_bound, parse_date
from kiosk.store.clock import parse_iso


def test_a_plain_date_is_the_device_day() -> None:
    assert parse_bound("2026-01-01", "Europe/Berlin", "--from") == "2026-01-01T00:00:00+01:00"
    assert parse_bound("2026-07-01", "Europe/Berlin", "--to", end=True) == "2026-07-02T00:00:00+02:00"
    assert parse_bound("2026-01-01T08:30", "America/New_York", "--from") == "2026-01-01T08:30:00-05:00"
    assert parse_bound("2026-01-01T08:30+00:00", "Europe/Berlin", "--to", end=True) == "2026-01-01T08:30:00+00:00"
    assert parse_bound("2026-01-01T08:30Z", "UTC", "--from") == "2026-01-01T08:30:00+00:00"
    assert parse_bound(None, "UTC", "--from") is None


@pytest.mark.parametrize("text", ["monday", "2026-13-01", "01.02.2026", ""])
def test_bad_dates_name_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--from '.*' is not a date or time; write e\.g\. 2026-01-31, "
                                         r"2026-01-31T08:00 \(device time, UTC\) or 2026-01-31T08:00\+01:00$"):
        parse_bound(text, "UTC", "--from")
    with pytest.raises(ValueError, match="--to .* is not a date; write e.g. 2026-01-31"):
        parse_date(text, "--to")


def test_the_store_hint_for_a_plain_date_is_valid_iso() -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 2026-01-01T00:00\+00:00\)") as caught:
        parse_iso("2026-01-01")
    hint = str(caught.value).split("write e.g. ")[1].rstrip(")")
    assert parse_iso(hint).isoformat() == "2026-01-01T00:00:00+00:00"
