"""`kiosk consent show/withdraw`: a person's consent records, and withdrawing all of it (erasure, like `person
delete`) or only the fleet part (the other kiosks erase the person, this one keeps the enrollment)."""
from __future__ import annotations

import argparse
from typing import Any

from ..actions.persons import erase_person
from .store_common import actor, one_line_errors, open_store, print_json

SHOWN = (("given_by", "given by"), ("given_at", "given at"), ("notice_version", "notice version"),
         ("method", "how"), ("guardian", "guardian"), ("minor", "minor"), ("recorded_at", "recorded at"))


def register(subparsers, common) -> None:
    consent = subparsers.add_parser("consent", help="show or withdraw a person's consent")
    actions = consent.add_subparsers(dest="action", metavar="ACTION", required=True)

    show = actions.add_parser("show", parents=[common], help="the consent in force and earlier records (audited)")
    show.add_argument("person", help="person id or employee number")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    withdraw = actions.add_parser("withdraw", parents=[common], help="withdraw consent: erase, or stop fleet sharing")
    withdraw.add_argument("person", help="person id or employee number")
    withdraw.add_argument("--scope", choices=["all", "fleet"], default="all",
                          help="all (default): erase the person's face data like `person delete` (needs --yes); "
                               "fleet: the other kiosks erase the person, this one keeps the enrollment")
    withdraw.add_argument("--yes", action="store_true", help="confirm the erasure (--scope all)")
    withdraw.add_argument("--reason", help="recorded in the audit ledger")
    withdraw.set_defaults(handler=_withdraw)


def _sharing(consents: list[dict[str, Any]]) -> str:
    if "fleet" in consents[-1]["scope"]:
        return "shared with the site's other kiosks"
    if any("fleet" in c["scope"] for c in consents):
        return "withdrawn: the other kiosks are told to erase the person (a fleet tombstone)"
    return "this kiosk only"


@one_line_errors
def _show(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        view = store.view_consent(args.person, actor=actor())
    if args.json:
        print_json(view)
        return 0
    person, consents = view["person"], view["consents"]
    print(f"{'person':<19} {person['name']} ({person['employee_no']}), {person['person_id']}")
    if not consents:
        print(f"{'consent':<19} none (no face data can be enrolled)")
        return 0
    current = consents[-1]
    print(f"{'consent':<19} {current['consent_id']}")
    for key, label in SHOWN:
        value = current[key]
        print(f"{label:<19} {'-' if value is None else ('yes' if value else 'no') if isinstance(value, bool) else value}")
    print(f"{'scope':<19} {', '.join(current['scope'])}")
    print(f"{'fleet':<19} {_sharing(consents)}")
    for earlier in reversed(consents[:-1]):
        print(f"{'earlier':<19} {earlier['consent_id']} recorded {earlier['recorded_at']}, scope "
              f"{', '.join(earlier['scope'])}")
    return 0


@one_line_errors
def _withdraw(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
    from ..store import Store

    config = load(args)
    with Store.open(config) as store:
        person = store.person(args.person)
        label = f"{person.name} ({person.employee_no})"
        if store.consent(person.person_id) is None:
            raise CommandError(f"{label} has no consent record (no face data); to remove the person, "
                               f"`kiosk person delete {args.person} --yes`")
        if args.scope == "fleet":
            narrowed = store.withdraw_fleet_consent(args.person, actor=actor(), reason=args.reason)
        else:
            if not args.yes:
                raise CommandError(f"withdrawing all consent erases '{args.person}' and cannot be undone; "
                                   "add --yes to confirm (or --scope fleet to stop fleet sharing only)")
            reason = f"consent withdrawn: {args.reason}" if args.reason else "consent withdrawn"
            print(erase_person(store, person, reason, note="consent withdrawn; ", actor=actor()))
            return 0
    where = ("a running daemon publishes a fleet tombstone within 10 s and the other kiosks erase the person"
             if config.mqtt.enabled and config.mqtt.fleet_sync else
             "fleet sync is off in this configuration: the tombstone goes out once it is on")
    print(f"withdrew fleet sharing of {label}: consent scope now {', '.join(narrowed.scope)}; this kiosk keeps the "
          f"enrollment; {where}")
    return 0
