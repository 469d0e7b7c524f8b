"""`kiosk backup --out FILE` and `kiosk restore FILE`: the kiosk's state as one archive sealed under a passphrase."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from .store_common import actor, one_line_errors


def register(subparsers, common) -> None:
    backup = subparsers.add_parser("backup", parents=[common],
                                   help="write the database, keys, signed audit head, calibration and attendance "
                                        "ledger as one encrypted archive (not the models); safe while the daemon runs")
    backup.add_argument("--out", type=Path, required=True, metavar="FILE", help="archive to write (mode 0600)")
    backup.add_argument("--passphrase-file", type=Path, metavar="FILE",
                        help="read the passphrase from the first line of this file (default: ask twice)")
    backup.set_defaults(handler=_backup)
    restore = subparsers.add_parser("restore", parents=[common],
                                    help="restore a `kiosk backup` archive into the configured paths, then check "
                                         "the database, the keys and the audit ledger")
    restore.add_argument("archive", type=Path, help="the file `kiosk backup` wrote")
    restore.add_argument("--passphrase-file", type=Path, metavar="FILE",
                         help="read the passphrase from the first line of this file (default: ask)")
    restore.add_argument("--force", action="store_true",
                         help="replace the existing state (stop the daemon first)")
    restore.set_defaults(handler=_restore)


def _passphrase(args: argparse.Namespace, *, confirm: bool) -> str:
    """From --passphrase-file, or asked on the terminal; never from the command line (it would show in ps)."""
    from ..actions.errors import CommandError

    if args.passphrase_file is not None:
        lines = args.passphrase_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the passphrase: give --passphrase-file FILE")
    passphrase = getpass.getpass("backup passphrase: ")
    if confirm and getpass.getpass("the same again: ") != passphrase:
        raise CommandError("the two passphrases differ")
    return passphrase


@one_line_errors
def _backup(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..backup import BackupError, collect
    from ..backup.dbfile import describe
    from ..backup.restore import write_private
    from ..cli import load

    config = load(args)
    try:
        backup = collect(config, _passphrase(args, confirm=True), actor=actor())
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    write_private(args.out, backup.sealed)
    members = backup.manifest["members"]
    print(f"wrote {args.out} ({len(backup.sealed)} bytes): {describe(backup.manifest['database'])}; "
          f"{len(members)} files ({', '.join(members)})")
    print(f"not included: {backup.manifest['not_included']}")
    return 0


@one_line_errors
def _restore(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..backup import BackupError, restore
    from ..cli import load

    config = load(args)
    sealed = args.archive.read_bytes()
    try:
        restored = restore(config, sealed, _passphrase(args, confirm=False), force=args.force)
    except BackupError as exc:
        raise CommandError(f"{args.archive}: {exc}; nothing restored") from None
    manifest = restored.manifest
    print(f"{args.archive}: backup of {manifest.get('device_id')} made {manifest.get('created')} "
          f"(kiosk {manifest.get('kiosk_version')})")
    for line in restored.checks:
        print(f"  {line}")
    print(f"placed {len(restored.placed)} files:")
    for path in restored.placed:
        print(f"  {path}")
    if restored.kept:
        print(f"left as they were (not in the archive): {', '.join(str(p) for p in restored.kept)}")
    if manifest.get("device_id") != config.device.id:
        print(f"note: the archive is of device {manifest.get('device_id')}; this configuration names "
              f"{config.device.id} (set device.id to keep its events and MQTT topics)")
    print("restore OK")
    return 0
