"""`kiosk admin add-user/list-users/remove-user`: the admin console's accounts (in <state_dir>/admin.db).

The password is read from the terminal (asked twice) or, when stdin is not a terminal, from its
first line: never from the command line, where `ps` and the shell history would show it. Adding and
removing an account is written to the audit ledger.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from .store_common import actor, one_line_errors, open_store


def register(subparsers, common) -> None:
    admin = subparsers.add_parser("admin", help="accounts of the web admin console")
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add-user", parents=[common],
                             help="add a console account (password from the terminal, or stdin's first line)")
    add.add_argument("name", help="account name: 1-32 of a-z, 0-9, '.', '_', '-'")
    add.add_argument("--role", required=True, choices=["admin", "hr", "auditor"],
                     help="admin: everything; hr: people, visitors, attendance; auditor: reads everything, "
                          "changes nothing")
    add.set_defaults(handler=_add)

    lst = actions.add_parser("list-users", parents=[common], help="list console accounts")
    lst.set_defaults(handler=_list)

    remove = actions.add_parser("remove-user", parents=[common], help="remove an account (its sessions end)")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)


def _accounts(args: argparse.Namespace):
    from ..cli import load
    from ..web.admin.accounts import Accounts

    return Accounts.in_state_dir(load(args).state_dir)


def read_password() -> str:
    """Twice from a terminal; else the first line of stdin."""
    from ..actions.errors import CommandError

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise CommandError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise CommandError("no password on stdin (give it as the first line)")
    return line.rstrip("\r\n")


@one_line_errors
def _add(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..web.admin.accounts import AccountError, check_name
    from ..web.admin.passwords import PasswordError, check_strength

    accounts = _accounts(args)
    try:
        check_name(args.name)
        if accounts.get(args.name) is not None:
            raise AccountError(f"account '{args.name}' exists already")
        password = read_password()
        check_strength(password)
        with open_store(args) as store:     # the store first: an account is added only if it can be audited
            account = accounts.add(args.name, args.role, password)
            store.audit("account", actor=actor(), outcome="added",
                        detail={"account": account.name, "role": account.role.value})
    except (AccountError, PasswordError) as exc:
        raise CommandError(str(exc)) from None
    print(f"added console account {account.name} ({account.role.value}); log in at /admin/login")
    return 0


@one_line_errors
def _list(args: argparse.Namespace) -> int:
    accounts = _accounts(args).all()
    print(f"{'name':<33} {'role':<8} created")
    for account in accounts:
        created = datetime.fromtimestamp(account.created).astimezone().isoformat(timespec="seconds")
        print(f"{account.name:<33} {account.role.value:<8} {created}")
    print(f"{len(accounts)} account(s)")
    return 0


@one_line_errors
def _remove(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..web.admin.accounts import AccountError

    accounts = _accounts(args)
    try:
        with open_store(args) as store:
            account = accounts.remove(args.name)
            store.audit("account", actor=actor(), outcome="removed",
                        detail={"account": account.name, "role": account.role.value})
    except AccountError as exc:
        raise CommandError(str(exc)) from None
    print(f"removed console account {account.name}; its sessions ended")
    return 0
