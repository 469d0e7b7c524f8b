"""Changes to a person's record as an operator types them (dates in the device time zone, schedules by
name); the `kiosk person` commands and the web console both call these."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Optional

from .errors import CommandError
from .person_options import check_schedule, parse_when

if TYPE_CHECKING:
    from ..store import Person


def add_person(store: Any, config: Any, *, employee_no: str, name: str, role: str, valid_from: Optional[str] = None,
               valid_to: Optional[str] = None, valid_days: Optional[float] = None, schedule: Optional[str] = None,
               actor: str) -> Any:
    """`person add` as typed (dates in the device time zone, --valid-days); CommandError or StoreError.
    Shared with the web console."""
    from ..store.clock import to_utc_iso, utc_now

    zone = config.device.timezone
    start = parse_when("--valid-from", valid_from, zone) if valid_from else None
    end = parse_when("--valid-to", valid_to, zone, end_of_day=True) if valid_to else None
    if valid_days is not None:
        if end:
            raise CommandError("give --valid-to or --valid-days, not both")
        if valid_days <= 0:
            raise CommandError("--valid-days must be positive")
        end = to_utc_iso(utc_now() + timedelta(days=valid_days))
    if schedule:
        check_schedule(schedule, config)
    return store.add_person(employee_no=employee_no, name=name, role=role, valid_from=start, valid_to=end,
                            schedule=schedule, actor=actor)


def label(person: Person) -> str:
    """How messages name a person: "Ann Lee (E001)"."""
    return f"{person.name} ({person.employee_no})"


def edit_person(store: Any, config: Any, ref: str, *, name: Optional[str] = None, employee_no: Optional[str] = None,
                role: Optional[str] = None, schedule: Optional[str] = None, valid_from: Optional[str] = None,
                valid_to: Optional[str] = None, clear: Sequence[str] = (), actor: str) -> tuple[Person, list[str]]:
    """`person edit` as typed; returns the person and the fields changed. Shared with the web console."""

    zone = config.device.timezone
    changes: dict[str, Any] = {key: value for key, value in
                               (("name", name), ("employee_no", employee_no), ("role", role),
                                ("schedule", schedule)) if value is not None}
    if schedule is not None:
        check_schedule(schedule, config)
    if valid_from is not None:
        changes["valid_from"] = parse_when("--valid-from", valid_from, zone)
    if valid_to is not None:
        changes["valid_to"] = parse_when("--valid-to", valid_to, zone, end_of_day=True)
    for flag in clear:
        key = flag.replace("-", "_")
        if key in changes:
            raise CommandError(f"give --{flag} or --clear {flag}, not both")
        changes[key] = None
    if not changes:
        raise CommandError("nothing to change: give --name, --employee-no, --role, --schedule, --valid-from, "
                           "--valid-to or --clear FIELD")
    return store.update_person(ref, actor=actor, outcome="edited", **changes), sorted(changes)


def set_status(store: Any, ref: str, status: str, outcome: str, reason: Optional[str], *, actor: str) -> Person:
    """Suspend ('suspended') or reactivate ('active'); CommandError when it is so already."""

    before = store.person(ref)
    if before.status == status:
        raise CommandError(f"{label(before)} is already {status}")
    return store.update_person(before.person_id, actor=actor, outcome=outcome, reason=reason, status=status)


def extend_person(store: Any, config: Any, ref: str, *, until: Optional[str] = None, days: Optional[float] = None,
                  actor: str) -> tuple[Person, Person]:
    """`person extend` (a new end, or days past the current end); returns (before, after)."""
    from ..store.clock import parse_iso, to_utc_iso, utc_now

    now = utc_now()
    before = store.person(ref)
    if not before.valid_to:
        raise CommandError(f"{label(before)} has no end of validity to extend "
                           f"(set one with `kiosk person edit {ref} --valid-to DATE`)")
    current = parse_iso(before.valid_to)
    if days is not None:
        if days <= 0:
            raise CommandError("--days must be positive, e.g. --days 7")
        end = to_utc_iso(max(current, now) + timedelta(days=days))
    elif until:
        end = parse_when("--until", until, config.device.timezone, end_of_day=True)
        if parse_iso(end) <= max(current, now):
            raise CommandError(f"--until: {until} is not after the current end {before.valid_to} "
                               "(nor after now); to shorten, use `kiosk person edit --valid-to`")
    else:
        raise CommandError("give --until DATE or --days N")
    return before, store.update_person(before.person_id, actor=actor, outcome="extended", valid_to=end)


def erase_person(store: Any, person: Any, reason: str | None, note: str = "", *, actor: str) -> str:
    """Erase `person` (tombstone, templates, kept images, consent) and return the line saying so;
    `note` goes before the counts (e.g. "consent withdrawn; "). The CLI and the web console share it."""
    templates = len(store.templates(person.person_id))
    store.delete_person(person.person_id, actor=actor, reason=reason)
    return (f"erased {person.name} ({person.employee_no}): {note}{templates} template(s), kept images and consent "
            f"removed; person {person.person_id} is now a tombstone (shared with the fleet)")
