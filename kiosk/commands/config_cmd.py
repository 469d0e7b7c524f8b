"""`kiosk config check` and `kiosk config show`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import DEFAULT_PATH, ConfigError, KioskConfig, describe_keys, load_config, reference_markdown, to_toml


def register(subparsers, common) -> None:
    config = subparsers.add_parser("config", help="check or show the configuration")
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)

    check = actions.add_parser("check", parents=[common], help="validate a configuration file",
                               description="Validate the configuration file named by --config (before or after "
                                           "the command), else $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml.")
    check.add_argument("path", type=Path, nargs="?", metavar="PATH",
                       help="deprecated spelling of --config PATH (it wins over --config)")
    check.set_defaults(handler=_check)

    show = actions.add_parser("show", parents=[common], help="print the effective configuration")
    show.add_argument("--doc", action="store_true", help="list every key with its default and meaning")
    show.add_argument("--markdown", action="store_true", help="with --doc: the README's reference tables")
    show.set_defaults(handler=_show)


def _check(args: argparse.Namespace) -> int:
    path = args.path or args.config or DEFAULT_PATH   # a missing default file is an error here, not defaults
    try:
        config = load_config(path)
        _check_person_schedules(config, path)
    except ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: OK")
    return 0


def _check_person_schedules(config: KioskConfig, path: Path) -> None:
    """ConfigError when enrolled persons name a schedule the configuration does not have (renamed, removed):
    they would be denied 'invalid_schedule'. Only when the configured database exists on this machine."""
    if not config.database_path.exists():
        return
    from ..access.policy import unknown_schedules
    from ..store import Store, StoreError

    try:
        with Store.open(config) as store:
            persons = store.persons()
    except StoreError as exc:
        print(f"{path}: persons' schedules not checked: {exc}", file=sys.stderr)
        return
    unknown = unknown_schedules(persons, config)
    if unknown:
        names = "; ".join(f"'{name}' (persons {', '.join(who)})" for name, who in sorted(unknown.items()))
        raise ConfigError(f"{path}: access.schedules: no such schedule for enrolled persons: {names}")


def _show(args: argparse.Namespace) -> int:
    if args.doc and args.markdown:
        sys.stdout.write(reference_markdown())
        return 0
    if args.doc:
        for key, default, description in describe_keys():
            print(f"{key} = {default}\n    {description}")
        return 0
    from ..cli import load

    sys.stdout.write(to_toml(load(args)))
    return 0
