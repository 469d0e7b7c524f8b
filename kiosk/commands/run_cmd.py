"""`kiosk run`: the daemon."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys


def register(subparsers, common) -> None:
    run = subparsers.add_parser("run", parents=[common], help="run the kiosk daemon (until SIGTERM or Ctrl-C)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from .. import logs
    from ..cli import load
    from ..service.daemon import Daemon
    from ..service.services import StartupError

    config = load(args)
    logs.setup(config.device.log_level, config.device.log_format.value, native=True)
    daemon = Daemon(config, args.config)
    try:
        code = asyncio.run(daemon.run())
    except StartupError as exc:
        print(f"kiosk: cannot start: {exc}", file=sys.stderr)
        return 2
    if code == 0 and daemon.reload_requested:
        # Same process (systemd keeps tracking the main PID), fresh interpreter, new configuration.
        logs.restore_native_stderr()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return code
