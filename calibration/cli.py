"""Calibration commands, shared by `kiosk calibrate ...` and `python -m calibration ...`.

    capture KIND --dir DIR ...   one capture from the kiosk's camera and MLX90640 (KIND: registration,
                                 distance, blackbody, ambient) with the operator's reference values
    simulate --dir DIR ...       a whole simulated session (scene simulator, MLX90640 mock + driver)
    fit --dir DIR [--out FILE]   fit ambient, blackbody, registration and distance curve; print the
                                 residuals, write the calibration file and, with --plots, PNGs
    show [FILE]                  validate a calibration file and summarise it
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import KINDS


class CalibrationCommandError(Exception):
    """An operator error, as one line."""


def add_actions(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    capture = actions.add_parser("capture", parents=[common], help="capture from the kiosk's camera and sensor")
    capture.add_argument("kind", choices=KINDS)
    capture.add_argument("--dir", type=Path, required=True, help="capture directory")
    capture.add_argument("--frames", type=int, default=8, help="thermal frames averaged per capture")
    capture.add_argument("--distance-m", type=float, help="registration: target distance along the camera axis")
    capture.add_argument("--canthus-c", type=float, help="distance: reference inner-canthus temperature")
    capture.add_argument("--forehead-c", type=float, help="distance: reference forehead temperature")
    capture.add_argument("--set-point-c", type=float, help="blackbody: the reference's set point")
    capture.add_argument("--room-c", type=float, help="room temperature from a reference thermometer")
    capture.set_defaults(handler=run, action_handler=_capture)

    simulate = actions.add_parser("simulate", parents=[common], help="write a simulated calibration session")
    simulate.add_argument("--dir", type=Path, required=True, help="capture directory")
    simulate.add_argument("--room-c", type=float, default=22.0)
    simulate.add_argument("--offset-mm", type=float, nargs=3, metavar=("X", "Y", "Z"),
                          help="true sensor position (default: temperature.sensor_offset_mm)")
    simulate.add_argument("--rotation-deg", type=float, nargs=3, metavar=("YAW", "PITCH", "ROLL"),
                          default=(0.0, 0.0, 0.0), help="true sensor rotation relative to the camera")
    simulate.add_argument("--blackbody", action="store_true", help="put a 35 C blackbody reference in view")
    simulate.add_argument("--drift-c", type=float, default=0.0, help="sensor offset drift during the session")
    simulate.add_argument("--noise-lsb", type=float, default=0.0, help="ADC noise of the simulated sensor")
    simulate.set_defaults(handler=run, action_handler=_simulate)

    fit = actions.add_parser("fit", parents=[common], help="fit a calibration file from captures")
    fit.add_argument("--dir", type=Path, required=True, help="capture directory")
    fit.add_argument("--out", type=Path, help="calibration file (default: the configured calibration path)")
    fit.add_argument("--plots", type=Path, help="write registration.png and distance.png here")
    fit.set_defaults(handler=run, action_handler=_fit)

    show = actions.add_parser("show", parents=[common], help="validate and summarise a calibration file")
    show.add_argument("file", type=Path, nargs="?", help="default: the configured calibration path")
    show.set_defaults(handler=run, action_handler=_show)


def _config(args: argparse.Namespace) -> Any:
    from kiosk.config import ConfigError, load_config

    try:
        return load_config(args.config)
    except ConfigError as exc:
        raise CalibrationCommandError(f"config error: {exc}") from None


def _capture(args: argparse.Namespace) -> int:
    from . import captures, devices

    required = {"registration": ["distance_m"], "distance": ["canthus_c", "forehead_c"],
                "blackbody": ["set_point_c"], "ambient": ["room_c"]}[args.kind]
    missing = [name for name in required if getattr(args, name) is None]
    if missing:
        raise CalibrationCommandError(f"capture {args.kind} needs --{missing[0].replace('_', '-')}")
    fields = {name: getattr(args, name) for name in ("distance_m", "canthus_c", "forehead_c", "set_point_c", "room_c")
              if getattr(args, name) is not None}
    try:
        path = captures.save(args.dir, devices.capture(_config(args), args.kind, max(1, args.frames), fields))
    except captures.CaptureError as exc:
        raise CalibrationCommandError(str(exc)) from None
    print(f"wrote {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from kiosk.thermal.calibration import rig_from_config
    from kiosk.thermal.geometry import Mount, Rig

    from .simulate import BLACKBODY, Session, simulate

    config = _config(args)
    nominal = rig_from_config(config)
    offset = tuple(v / 1000 for v in (args.offset_mm or config.temperature.sensor_offset_mm))
    rig = Rig(nominal.camera, nominal.thermal, Mount(offset, tuple(args.rotation_deg)))
    session = Session(rig, args.room_c, BLACKBODY if args.blackbody else None, args.drift_c)
    written = simulate(args.dir, session, args.noise_lsb)
    print(f"wrote {len(written)} simulated captures to {args.dir}")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from kiosk.thermal import calibration as calibration_file

    from . import captures
    from .fit import fit_captures
    from .plots import write_plots

    config = _config(args)
    out = args.out or config.calibration_path
    base = calibration_file.Calibration.default(calibration_file.rig_from_config(config))
    try:
        report = fit_captures(captures.load_all(args.dir), base)
    except captures.CaptureError as exc:
        raise CalibrationCommandError(str(exc)) from None
    for line in report.lines:
        print(line)
    for name, _, thermal, distance in report.registration_pairs:
        print(f"  {name}: target at ({thermal[0]:5.2f}, {thermal[1]:5.2f}) px, {distance:.2f} m")
    for d, c_read, f_read, c_true, f_true in report.distance_points:
        c_off, f_off = report.calibration.distance.offsets(d)
        print(f"  face at {d:.2f} m: canthi {c_read + c_off:.2f} (ref {c_true:.2f}), "
              f"forehead {f_read + f_off:.2f} (ref {f_true:.2f})")
    calibration_file.save(report.calibration, out)
    print(f"wrote {out}")
    if args.plots:
        for path in write_plots(report, args.plots):
            print(f"wrote {path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from kiosk.thermal.calibration import CalibrationError, load

    config = _config(args)
    path = args.file or config.calibration_path
    if not path.exists():
        raise CalibrationCommandError(f"{path}: no calibration file (the kiosk uses built-in defaults)")
    try:
        cal = load(path)
    except CalibrationError as exc:
        raise CalibrationCommandError(str(exc)) from None
    reg, dist, bb = cal.registration, cal.distance, cal.blackbody
    print(f"{path}: valid, created {cal.created or 'unknown'}")
    print(f"  camera {cal.rig.camera.width}x{cal.rig.camera.height}, thermal {cal.rig.thermal.width}x{cal.rig.thermal.height}")
    print(f"  registration: {reg.source}, {reg.pairs} pairs, residual "
          + ("n/a" if reg.residual_px is None else f"{reg.residual_px:.3f} px"))
    print(f"  distance curve: {dist.range_m[0]:.2f}-{dist.range_m[1]:.2f} m, {dist.captures} readings, residual "
          + ("n/a" if dist.residual_c is None else f"{dist.residual_c:.3f} C"))
    print(f"  ambient: die {cal.ambient.ta_offset_c:+.2f} C above the room")
    print("  blackbody: none" if bb is None else
          f"  blackbody: region {list(bb.region)}, reference reading {bb.reference_reading_c:.2f} C")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed action; operator errors print one line and return 1."""
    try:
        return int(args.action_handler(args) or 0)
    except CalibrationCommandError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=None, help="kiosk configuration file")
    parser = argparse.ArgumentParser(prog="python -m calibration", description=__doc__.splitlines()[0])
    add_actions(parser, common)
    args = parser.parse_args(argv)
    return args.handler(args)
