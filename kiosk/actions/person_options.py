"""Person options as typed by an operator: times (a plain date or a full ISO time) and schedule names."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ..config import KioskConfig

EXAMPLE = "e.g. 2026-12-31 or 2026-12-31T18:00:00+01:00"


def parse_when(flag: str, text: str, timezone: str, *, end_of_day: bool = False) -> str:
    """The store's UTC ISO form of `text`. A plain date (YYYY-MM-DD) is that day in the device time zone
    (`device.timezone`): its start, or with `end_of_day` the start of the next day (ends of validity are
    exclusive, so `--valid-to 2026-12-31` admits all of that day). An ISO time without offset is device time."""
    from ..store.clock import to_utc_iso
    from .errors import CommandError

    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{flag}: '{text}' is not a date or an ISO time ({EXAMPLE})") from None
    if moment.tzinfo is None:
        moment = moment.astimezone() if timezone == "localtime" else moment.replace(tzinfo=ZoneInfo(timezone))
    return to_utc_iso(moment)


def check_schedule(name: str, config: KioskConfig) -> None:
    """CommandError unless `name` is a schedule of access.schedules or a list of windows."""
    from ..access.policy import person_schedule
    from .errors import CommandError

    try:
        person_schedule(name, config)
    except ValueError as exc:
        raise CommandError(f"--schedule: {exc}") from None
