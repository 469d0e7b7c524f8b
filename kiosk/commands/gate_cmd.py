"""`kiosk gate lock` (systemd ExecStopPost: release the relay from a fresh process) and
`kiosk gate test` (one pulse, for installers)."""
from __future__ import annotations

import argparse
import time


def register(subparsers, common) -> None:
    gate = subparsers.add_parser("gate", help="lock the gate or test the relay")
    actions = gate.add_subparsers(dest="action", metavar="ACTION", required=True)

    lock = actions.add_parser("lock", parents=[common],
                              help="release the relay (lock the gate); works after the daemon was killed")
    lock.set_defaults(handler=_lock)

    test = actions.add_parser("test", parents=[common], help="unlock the gate for one pulse (stop the daemon first)")
    test.add_argument("--pulse", type=float, default=None, metavar="SECONDS",
                      help="pulse length (default: gate.pulse_s)")
    test.set_defaults(handler=_test)


def _lock(args: argparse.Namespace) -> int:
    from drivers.relay.base import RelayError

    from ..access.gate import lock_gate
    from ..actions.errors import CommandError
    from ..cli import load

    config = load(args)
    try:
        what = lock_gate(config)
    except RelayError as exc:
        raise CommandError(f"gate lock failed: {exc}") from None
    print(f"gate locked: {what}")
    return 0


def _test(args: argparse.Namespace) -> int:
    from drivers.relay.base import RelayError

    from ..access.gate import GateController, build_relay
    from ..actions.errors import CommandError
    from ..cli import load

    config = load(args)
    pulse = args.pulse if args.pulse is not None else config.gate.pulse_s
    if not 0 < pulse <= 60:
        raise CommandError(f"--pulse {pulse}: must be more than 0 and at most 60 seconds")
    changes: list[tuple[bool, float]] = []
    gate = GateController(build_relay(config), pulse, on_change=lambda unlocked, at: changes.append((unlocked, at)))
    try:
        gate.start_sync()
    except RelayError as exc:
        raise CommandError(f"gate test failed: {exc}") from None
    try:
        print(f"unlocking {gate.relay.describe() if hasattr(gate.relay, 'describe') else 'relay'} for {pulse:g} s")
        gate.grant()
        deadline = time.monotonic() + pulse + 5
        while len(changes) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        gate.stop_sync()
    if len(changes) < 2 or not changes[0][0]:
        raise CommandError(f"gate test failed: the relay did not switch ({gate.health.detail})")
    print(f"relay unlocked for {changes[1][1] - changes[0][1]:.3f} s, now locked")
    return 0
