"""`kiosk keys init` and `kiosk keys show`: the device's key files (README: People, enrollment and privacy)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .store_common import one_line_errors


def register(subparsers, common) -> None:
    keys = subparsers.add_parser("keys", help="create or show the template, signing and fleet keys")
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", parents=[common], help="create missing keys (never overwrites)")
    init.add_argument("--dir", type=Path, default=None, help="keys directory (default: store.keys_dir)")
    init.set_defaults(handler=_init)
    show = actions.add_parser("show", parents=[common], help="print the event-signing public key and its id")
    show.add_argument("--dir", type=Path, default=None, help="keys directory (default: store.keys_dir)")
    show.set_defaults(handler=_show)


def _keys_dir(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return args.dir
    from ..cli import load

    return load(args).keys_dir


@one_line_errors
def _init(args: argparse.Namespace) -> int:
    from ..store.keys import init_keys

    keys_dir = _keys_dir(args)
    created = init_keys(keys_dir)
    print(f"{keys_dir}: created {', '.join(created)}" if created else f"{keys_dir}: all keys present, nothing changed")
    return 0


@one_line_errors
def _show(args: argparse.Namespace) -> int:
    from ..store.keys import SIGNING_KEY, SIGNING_PUB, check_key_pair, key_id, load_public_key, load_signing_key, secret_path

    keys_dir = _keys_dir(args)
    path = keys_dir / SIGNING_PUB
    public = load_public_key(path)
    if secret_path(keys_dir, SIGNING_KEY).exists():    # never hand HR a public key the device does not sign with
        check_key_pair(keys_dir, load_signing_key(keys_dir))
    print(f"key_id {key_id(public)}  ({path})")
    print(path.read_text(), end="")
    return 0
