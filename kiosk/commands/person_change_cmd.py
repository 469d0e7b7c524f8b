"""`kiosk person edit/suspend/reactivate/extend`: change a person's record.

Each change is one 'person_update' audit record with the actor, and a new fleet version. A running daemon
reads the person at every match, so a change decides the next walk-up without a restart; fleet sync
publishes it to the other kiosks when the person is shared.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..actions.person_options import EXAMPLE
from ..actions.persons import edit_person, extend_person, label, set_status
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
    print(f"updated {label(person)}: {values}")
    return 0


def _set_status(args: argparse.Namespace, status: str, outcome: str) -> Person:
    with open_store(args) as store:
        return set_status(store, args.person, status, outcome, args.reason, actor=actor())


@one_line_errors
def _suspend(args: argparse.Namespace) -> int:
    person = _set_status(args, "suspended", "suspended")
    print(f"suspended {label(person)}: denied at the gate ('suspended') from the next walk-up; "
          f"`kiosk person reactivate {person.employee_no}` undoes it")
    return 0


@one_line_errors
def _reactivate(args: argparse.Namespace) -> int:
    person = _set_status(args, "active", "reactivated")
    print(f"reactivated {label(person)}: status active")
    return 0


@one_line_errors
def _extend(args: argparse.Namespace) -> int:
    from ..cli import load
    from ..store import Store

    config = load(args)
    with Store.open(config) as store:
        before, person = extend_person(store, config, args.person, until=args.until, days=args.days, actor=actor())
    print(f"extended {label(person)}: valid until {person.valid_to} (was {before.valid_to})")
    return 0
