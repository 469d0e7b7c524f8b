"""Helpers shared by the store's sub-commands (keys, person, enroll, audit, events)."""
from __future__ import annotations

import argparse
import functools
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store import Store


def actor() -> str:
    """Who is acting, for the audit ledger."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def one_line_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn store errors (and unreadable files) into one-line operator errors."""
    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        from ..actions.errors import CommandError
        from ..store import StoreError

        try:
            return handler(args)
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            raise CommandError(f"{name}{exc.strerror or exc}") from None
    return wrapped


def open_store(args: argparse.Namespace) -> Store:
    from ..cli import load
    from ..store import Store

    return Store.open(load(args))


def write_output(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


