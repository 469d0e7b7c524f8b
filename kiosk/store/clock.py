"""Timestamps: every time the store writes is UTC ISO 8601 with microseconds, so text order is time order."""
from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_utc_iso(moment: datetime) -> str:
    """`moment` (aware) as e.g. 2026-11-28T22:50:01.123000+00:00."""
    if moment.tzinfo is None:
        raise ValueError(f"time {moment.isoformat()} has no UTC offset")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (a trailing Z is accepted); ValueError names the bad text."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError(f"'{text}' is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        example = text.strip() + ("T00:00+00:00" if len(text.strip()) == 10 else "+00:00")
        raise ValueError(f"'{text}' has no UTC offset (write e.g. {example})")
    return moment


def normalise_iso(text: str) -> str:
    """Any ISO time with an offset, rewritten in the store's UTC form."""
    return to_utc_iso(parse_iso(text))
