"""`kiosk` command line: one sub-command module per area, each with `register(subparsers, common)`.

Modules import their heavy dependencies (OpenCV, LiteRT, paho) inside their handlers, so
`kiosk --help` and `kiosk config check` start fast.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from . import __version__
from .actions.errors import CommandError
from .config import ConfigError, KioskConfig, load_config

# Each module registers one or more sub-commands.
COMMAND_MODULES = [
    "kiosk.commands.config_cmd",
    "kiosk.commands.run_cmd",
    "kiosk.commands.selftest_cmd",
    "kiosk.commands.gate_cmd",
    "kiosk.commands.sim_cmd",
    "kiosk.commands.models_cmd",
    "kiosk.commands.eval_cmd",
    "kiosk.commands.eval_openset_cmd",
    "kiosk.commands.bench_cmd",
    "kiosk.commands.keys_cmd",
    "kiosk.commands.person_cmd",
    "kiosk.commands.enroll_cmd",
    "kiosk.commands.consent_cmd",
    "kiosk.commands.audit_cmd",
    "kiosk.commands.events_cmd",
    "kiosk.commands.attendance_cmd",
    "kiosk.commands.mqtt_cmd",
    "kiosk.commands.calibrate_cmd",
    "kiosk.commands.backup_cmd",
    "kiosk.commands.admin_cmd",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
CONFIG_ENV = "KIOSK_CONFIG"


def load(args: argparse.Namespace) -> KioskConfig:
    """The validated configuration named by --config (or the default); exits with one line on error."""
    try:
        return load_config(args.config)
    except ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def config_path(after: Optional[Path], before: Optional[Path], env: Mapping[str, str]) -> Optional[Path]:
    """The configuration file in force: --config after the sub-command, else --config before it, else
    $KIOSK_CONFIG, else None (load_config's default: /etc/kiosk/kiosk.toml, or built-in defaults if absent)."""
    if after is not None:
        return after
    if before is not None:
        return before
    return Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None


def build_parser() -> argparse.ArgumentParser:
    # Sub-commands keep their own --config (scripts and the systemd unit put it after the command); its dest
    # differs from the global one's, which a sub-command's default would otherwise overwrite.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=None,
                        help="configuration file (overrides --config before the command and $KIOSK_CONFIG)")
    parser = argparse.ArgumentParser(prog="kiosk", description="Face + temperature kiosk daemon and its tools.")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    parser.add_argument("--config", dest="global_config", type=Path, default=None, metavar="CONFIG",
                        help=f"configuration file for the command (default ${CONFIG_ENV}, else /etc/kiosk/kiosk.toml, "
                             "else built-in defaults)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers, common)
    return parser


def join_two_word_command(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """`kiosk eval open-set ...` runs the sub-command `eval-open-set`: two-word commands live beside a command
    that takes a positional argument (`kiosk eval PAIRS`), which argparse sub-parsers cannot express."""
    argv = list(argv)
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    at = 0   # past a global `--config FILE` / `--config=FILE`
    while at < len(argv) and argv[at].startswith("--config"):
        at += 1 if "=" in argv[at] else 2
    if len(argv) >= at + 2 and f"{argv[at]}-{argv[at + 1]}" in commands:
        return [*argv[:at], f"{argv[at]}-{argv[at + 1]}", *argv[at + 2:]]
    return argv


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_two_word_command(sys.argv[1:] if argv is None else argv, parser))
    args.config = config_path(getattr(args, "config", None), args.global_config, os.environ)
    try:
        return int(args.handler(args) or 0)
    except CommandError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
