"""`kiosk config check PATH` and `kiosk config show`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import ConfigError, describe_keys, load_config, reference_markdown, to_toml


def register(subparsers, common) -> None:
    config = subparsers.add_parser("config", help="check or show the configuration")
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)

    check = actions.add_parser("check", help="validate a configuration file")
    check.add_argument("path", type=Path, help="TOML file to check")
    check.set_defaults(handler=_check)

    show = actions.add_parser("show", parents=[common], help="print the effective configuration")
    show.add_argument("--doc", action="store_true", help="list every key with its default and meaning")
    show.add_argument("--markdown", action="store_true", help="with --doc: the README's reference tables")
    show.set_defaults(handler=_show)


def _check(args: argparse.Namespace) -> int:
    try:
        load_config(args.path)
    except ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.path}: OK")
    return 0


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
