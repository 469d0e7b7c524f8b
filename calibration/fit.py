"""Fit a calibration from captures: ambient, blackbody, registration, distance curve, in that order
(each later step measures with the parts already fitted)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drivers.thermal.base import ThermalFrame
from kiosk.thermal.calibration import Calibration
from kiosk.thermal.compensation import find_blackbody, fit_ambient, fit_blackbody, fit_distance_curve
from kiosk.thermal.measure import corrected_temperatures, read_sites
from kiosk.thermal.registration import RegistrationError, fit_registration, residuals
from kiosk.thermal.roi import map_face
from kiosk.types import FaceObservation

from .captures import Capture, CaptureError
from .detect import TargetNotFound, camera_target, thermal_target


@dataclass
class FitReport:
    calibration: Calibration
    lines: list[str] = field(default_factory=list)
    registration_pairs: list[tuple[str, np.ndarray, np.ndarray, float]] = field(default_factory=list)
    distance_points: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    # (distance, canthus read, forehead read, canthus true, forehead true)


def _frame(capture: Capture, calibration: Calibration) -> ThermalFrame:
    return ThermalFrame(capture.thermal.astype(np.float32), capture.ta_c, 0.0, 0,
                        geometry=calibration.rig.thermal_geometry)


def _check_shapes(captures: list[Capture], base: Calibration) -> None:
    """Every capture must be a frame of the rig's sensor (the configured one)."""
    rows, cols = base.rig.thermal_geometry.resolution
    for capture in captures:
        if capture.thermal.shape != (rows, cols):
            raise CaptureError(f"{capture.path}: 'thermal' must be {rows} rows of {cols} finite temperatures "
                               f"(the configured sensor's frame)")


def fit_captures(captures: list[Capture], base: Calibration) -> FitReport:
    """A calibration from `captures`; steps without captures keep `base`'s values (and say so)."""
    _check_shapes(captures, base)
    report = FitReport(base)
    cal = base
    by_kind: dict[str, list[Capture]] = {}
    for capture in captures:
        by_kind.setdefault(capture.kind, []).append(capture)

    with_room = [c for c in captures if c.fields.get("room_c") is not None]
    if with_room:
        offsets = [c.ta_c - c.number("room_c") for c in with_room]
        cal = cal.with_changes(ambient=fit_ambient(np.array([c.ta_c for c in with_room]),
                                                   float(np.mean([c.number("room_c") for c in with_room]))))
        report.lines.append(f"ambient: sensor die runs {cal.ambient.ta_offset_c:+.2f} C above the room "
                            f"(spread {np.ptp(offsets):.2f} C over {len(with_room)} captures)")
    else:
        report.lines.append(f"ambient: no captures with room_c; keeping {cal.ambient.ta_offset_c:+.2f} C self-heating")

    if "blackbody" in by_kind:
        frames = [c.thermal for c in by_kind["blackbody"]]
        try:
            region = find_blackbody(np.mean(frames, axis=0))
        except ValueError as exc:
            raise CaptureError(f"blackbody: {exc}") from None
        set_points = {c.number("set_point_c") for c in by_kind["blackbody"]}
        if len(set_points) > 1:
            raise CaptureError(f"blackbody: captures disagree on set_point_c ({sorted(set_points)})")
        blackbody = fit_blackbody(frames, region, set_points.pop())
        cal = cal.with_changes(blackbody=blackbody)
        report.lines.append(f"blackbody: region rows {region[0]}-{region[2] - 1} cols {region[1]}-{region[3] - 1}, "
                            f"reads {blackbody.reference_reading_c:.2f} C at set point {blackbody.set_point_c:.2f} C")

    if "registration" in by_kind:
        empty = [corrected_temperatures(_frame(c, cal), cal) for c in by_kind.get("ambient", []) + by_kind.get("blackbody", [])]
        background = np.mean(empty, axis=0) if empty else None
        cam, th, dist, names = [], [], [], []
        for capture in by_kind["registration"]:
            if capture.camera_image is None:
                raise CaptureError(f"{capture.path}: a registration capture needs its camera image")
            try:
                cam.append(camera_target(capture.camera_image))
                th.append(thermal_target(corrected_temperatures(_frame(capture, cal), cal), background))
            except TargetNotFound as exc:
                report.lines.append(f"registration: skipped {capture.path.name if capture.path else '?'}: {exc}")
                continue
            dist.append(capture.number("distance_m"))
            names.append(capture.path.name if capture.path else "?")
        try:
            registration = fit_registration(np.array(cam), np.array(th), np.array(dist), cal.rig)
        except RegistrationError as exc:
            raise CaptureError(f"registration: {exc}") from None
        errors = residuals(registration, np.array(cam), np.array(th), np.array(dist))
        report.registration_pairs = list(zip(names, cam, th, dist, strict=True))
        cal = cal.with_changes(registration=registration)
        parallax = "fitted" if np.ptp(dist) >= 0.15 else "from the nominal mount (one distance only)"
        report.lines.append(f"registration: {len(cam)} pairs, RMS {registration.residual_px:.3f} thermal px, "
                            f"worst {errors.max():.3f} px; parallax {parallax}")

    if "distance" in by_kind:
        points = []
        for capture in by_kind["distance"]:
            face = capture.fields.get("face") or {}
            try:
                observation = FaceObservation(tuple(face["box"]), 1.0, np.asarray(face["keypoints"], dtype=float))
                width, height = (int(v) for v in capture.fields["frame_size"])
            except (KeyError, TypeError, ValueError):
                raise CaptureError(f"{capture.path}: a distance capture needs face.box, face.keypoints "
                                   f"and frame_size") from None
            frame = _frame(capture, cal)
            room = cal.ambient.room_c(frame.ambient_c, capture.fields.get("room_c"))
            sites = read_sites(corrected_temperatures(frame, cal), map_face(observation, (width, height), cal), cal, room)
            if sites is None:
                report.lines.append(f"distance: skipped {capture.path}: the face is not in the thermal view")
                continue
            points.append((sites.distance_m, sites.canthus_c, sites.forehead_c, capture.number("canthus_c"),
                           capture.number("forehead_c")))
        if not points:
            raise CaptureError("distance: no capture shows the reference face in the thermal view")
        d, c_read, f_read, c_true, f_true = (np.array(column) for column in zip(*points, strict=True))
        try:
            curve = fit_distance_curve(d, c_read, f_read, c_true, f_true)
        except ValueError as exc:
            raise CaptureError(f"distance: {exc}") from None
        report.distance_points = points
        cal = cal.with_changes(distance=curve)
        report.lines.append(f"distance: {len(points)} readings from {d.min():.2f} to {d.max():.2f} m, "
                            f"residual RMS {curve.residual_c:.3f} C")
    report.calibration = cal
    return report
