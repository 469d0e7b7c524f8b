"""`kiosk person edit/suspend/reactivate/extend`: change a person's record.

Each change is one 'person_update' audit record with the actor, and a new fleet version. A running daemon
reads the person at every match, so a change decides the next walk-up without a restart; fleet sync
publishes it to the other kiosks when the person is shared.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Optional

from .person_options import EXAMPLE, check_schedule, parse_when
from .store_common import actor, one_line_errors, open_store

if TYPE_CHECKING:
    from ..store import Person

CLEARABLE = ("schedule", "valid-from", "valid-to")


def add_actions(actions, common) -> None:
    edit = actions.add_parser("edit", parents=[common], help="change name, employee number, role, schedule, validity")
    edit.add_argument("person", help="person id or employee number")
    edit.add_argument("--name")
    edit.add_argument("--employee-no")
    edit.add_argument("--role", choices=["staff", "visitor"])
    edit.add_argument("--schedule", help="access schedule name or windows")
    edit.add_argument("--valid-from", help=f"a date (device time zone) or ISO time, {EXAMPLE}")
    edit.add_argument("--valid-to", help="end of validity, exclusive (a date: to the end of that day)")
    edit.add_argument("--clear", action="append", choices=CLEARABLE, default=[],
                      help="unset a field (schedule: back to the role's); repeatable")
    edit.set_defaults(handler=_edit)

    suspend = actions.add_parser("suspend", parents=[common],
                                 help="deny a person at the gate ('suspended') until reactivated; keeps the enrollment")
    suspend.add_argument("person", help="person id or employee number")
    suspend.add_argument("--reason", help="recorded in the audit ledger")
    suspend.set_defaults(handler=_suspend)

    reactivate = actions.add_parser("reactivate", parents=[common], help="undo `person suspend`")
    reactivate.add_argument("person", help="person id or employee number")
    reactivate.add_argument("--reason", help="recorded in the audit ledger")
    reactivate.set_defaults(handler=_reactivate)

    extend = actions.add_parser("extend", parents=[common], help="move the end of a person's validity later")
    extend.add_argument("person", help="person id or employee number")
    until = extend.add_mutually_exclusive_group(required=True)
    until.add_argument("--until", help=f"new end, exclusive (a date: to the end of that day), {EXAMPLE}")
    until.add_argument("--days", type=float, help="days past the current end (from now if it has passed)")
    extend.set_defaults(handler=_extend)


def _label(person: Person) -> str:
    return f"{person.name} ({person.employee_no})"


def edit_person(store: Any, config: Any, ref: str, *, name: Optional[str] = None, employee_no: Optional[str] = None,
                role: Optional[str] = None, schedule: Optional[str] = None, valid_from: Optional[str] = None,
                valid_to: Optional[str] = None, clear: Sequence[str] = (), actor: str) -> tuple[Person, list[str]]:
    """`person edit` as typed; returns the person and the fields changed. Shared with the web console."""
    from ..cli import CommandError

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
    from ..cli import CommandError

    before = store.person(ref)
    if before.status == status:
        raise CommandError(f"{_label(before)} is already {status}")
    return store.update_person(before.person_id, actor=actor, outcome=outcome, reason=reason, status=status)


def extend_person(store: Any, config: Any, ref: str, *, until: Optional[str] = None, days: Optional[float] = None,
                  actor: str) -> tuple[Person, Person]:
    """`person extend` (a new end, or days past the current end); returns (before, after)."""
    from ..cli import CommandError
    from ..store.clock import parse_iso, to_utc_iso, utc_now

    now = utc_now()
    before = store.person(ref)
    if not before.valid_to:
        raise CommandError(f"{_label(before)} has no end of validity to extend "
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


@one_line_errors
def _edit(args: argparse.Namespace) -> int:
    from ..cli import load
    from ..store import Store

    config = load(args)
    with Store.open(config) as store:
        person, changed = edit_person(store, config, args.person, name=args.name, employee_no=args.employee_no,
                                      role=args.role, schedule=args.schedule, valid_from=args.valid_from,
                                      valid_to=args.valid_to, clear=args.clear, actor=actor())
    values = ", ".join(f"{key} {getattr(person, key) or '-'}" for key in changed)
    print(f"updated {_label(person)}: {values}")
    return 0


def _set_status(args: argparse.Namespace, status: str, outcome: str) -> Person:
    with open_store(args) as store:
        return set_status(store, args.person, status, outcome, args.reason, actor=actor())


@one_line_errors
def _suspend(args: argparse.Namespace) -> int:
    person = _set_status(args, "suspended", "suspended")
    print(f"suspended {_label(person)}: denied at the gate ('suspended') from the next walk-up; "
          f"`kiosk person reactivate {person.employee_no}` undoes it")
    return 0


@one_line_errors
def _reactivate(args: argparse.Namespace) -> int:
    person = _set_status(args, "active", "reactivated")
    print(f"reactivated {_label(person)}: status active")
    return 0


@one_line_errors
def _extend(args: argparse.Namespace) -> int:
    from ..cli import load
    from ..store import Store

    config = load(args)
    with Store.open(config) as store:
        before, person = extend_person(store, config, args.person, until=args.until, days=args.days, actor=actor())
    print(f"extended {_label(person)}: valid until {person.valid_to} (was {before.valid_to})")
    return 0
