"""`kiosk selftest`: check the configured devices, models, store and broker."""
from __future__ import annotations

import argparse


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("selftest", parents=[common],
                                   help="check each configured device, model and the broker (daemon stopped)")
    parser.set_defaults(handler=_selftest)


def _selftest(args: argparse.Namespace) -> int:
    import logging

    from ..cli import load
    from ..service.selftest import SelfTest, failed, format_results

    logging.basicConfig(level=logging.WARNING)
    results = SelfTest(load(args)).run()
    print(format_results(results))
    bad = failed(results)
    if bad:
        print(f"selftest failed: {', '.join(bad)}")
        return 1
    print("selftest passed")
    return 0
