"""`kiosk run`: the daemon."""
from __future__ import annotations

import argparse
import asyncio
import sys


def register(subparsers, common) -> None:
    run = subparsers.add_parser("run", parents=[common], help="run the kiosk daemon (until SIGTERM or Ctrl-C)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from .. import logs
    from ..cli import load
    from ..daemon import Daemon, StartupError

    config = load(args)
    logs.setup(config.device.log_level, config.device.log_format.value)
    daemon = Daemon(config, args.config)
    try:
        return asyncio.run(daemon.run())
    except StartupError as exc:
        print(f"kiosk: cannot start: {exc}", file=sys.stderr)
        return 2
