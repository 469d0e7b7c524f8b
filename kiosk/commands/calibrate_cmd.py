"""`kiosk calibrate ...`: the calibration tools (see calibration/cli.py)."""
from __future__ import annotations


def register(subparsers, common) -> None:
    from calibration.cli import add_actions

    add_actions(subparsers.add_parser("calibrate", help="calibrate the thermal sensor against the camera"), common)
