"""Body temperature benchmark for `make bench`: the skin-to-core model on the FDA dev data, accuracy
on simulated scenes (through the MLX90640 mock bus and driver) after a simulated calibration, by
distance and room temperature, thermal liveness on live faces and attacks, and time per call."""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

from calibration import captures
from calibration.fit import fit_captures
from calibration.simulate import BLACKBODY, MockThermalSensor, Session, simulate
from kiosk.config import KioskConfig
from kiosk.sim.thermal_scene import Subject, ThermalScene, project_face
from kiosk.sim.walkups import Presentation
from kiosk.thermal.calibration import Calibration, rig_from_config
from kiosk.thermal.geometry import Mount, Rig
from kiosk.thermal.liveness import check
from kiosk.thermal.measure import measure
from kiosk.thermal.skin_core import cross_validate, load_fda
from kiosk.types import FaceObservation

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRUE_MOUNT = Mount((0.036, 0.007, 0.002), (1.5, -1.0, 0.6))
DISTANCES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ROOMS = (18.0, 22.0, 26.0, 30.0)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _observe(face) -> FaceObservation:
    return FaceObservation(face.box, 0.99, np.asarray(face.keypoints, dtype=float))


def fda_figures(shared: Path, threshold: float) -> dict:
    data = load_fda(shared / "data" / "thermal" / "fda_facial_oral_temperature")
    out = {}
    for th in (threshold, 37.5, 38.0):
        v = cross_validate(data, th)
        out[f"{th:.1f}"] = {"mae_c": round(v.mae_c, 3), "sensitivity": round(v.sensitivity, 3),
                            "specificity": round(v.specificity, 3), "febrile": v.positives, "rows": v.rows}
    return out


def simulated_figures(noise_lsb: float) -> dict:
    config = KioskConfig()
    nominal = rig_from_config(config)
    rig = Rig(nominal.camera, nominal.thermal, TRUE_MOUNT)
    with tempfile.TemporaryDirectory() as tmp:
        simulate(Path(tmp), Session(rig, 22.0, BLACKBODY), noise_lsb=noise_lsb)
        calibration = fit_captures(captures.load_all(Path(tmp)), Calibration.default(nominal)).calibration
    scene = ThermalScene(rig, 22.0, [], [BLACKBODY])
    sensor = MockThermalSensor(scene, noise_lsb=noise_lsb, seed=1)
    rng = np.random.default_rng(0)
    errors: dict[tuple[float, float], list[float]] = {}
    far_flagged = far_total = 0
    live_ok = live_total = attack_refused = attack_total = 0
    measure_ms, liveness_ms = [], []
    try:
        for room, distance in itertools.product(ROOMS, DISTANCES + (1.2, 1.5)):
            scene.room_c = room
            for _ in range(6):
                body = float(rng.uniform(36.0, 39.5))
                subject = Subject(distance, float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.04, 0.04)),
                                  body_c=body, masked=bool(rng.integers(2)))
                scene.subjects = [subject]
                frame = sensor.read()
                face = _observe(project_face(rig, subject))
                started = time.perf_counter()
                reading = measure(frame, face, (640, 480), calibration, config.temperature)
                measure_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                live = check(frame, face, (640, 480), calibration, config.liveness)
                liveness_ms.append((time.perf_counter() - started) * 1000)
                if distance > 1.0:
                    far_total += 1
                    far_flagged += reading.quality < config.temperature.min_quality
                    continue
                if reading.body_c is None:
                    raise RuntimeError(f"no body temperature at {distance} m, room {room} C: {reading.reason}")
                errors.setdefault((room, distance), []).append(reading.body_c - body)
                live_total += 1
                live_ok += live is not None and live.live
            for presentation, width, surface, surface_c in ((Presentation.photo, 0.1575, None, room + 0.3),
                                                            (Presentation.screen, 0.14, (0.17, 0.24), 35.0)):
                if distance > 0.9:
                    continue
                attack = Subject(distance, 0.02, presentation=presentation, face_width_m=width, surface_m=surface,
                                 surface_c=surface_c)
                scene.subjects = [attack]
                result = check(sensor.read(), _observe(project_face(rig, attack)), (640, 480), calibration,
                               config.liveness)
                attack_total += 1
                attack_refused += result is not None and not result.live
    finally:
        sensor.close()
    by_room = {}
    for room in ROOMS:
        e = np.concatenate([errors[(room, d)] for d in DISTANCES])
        by_room[f"{room:.0f}"] = {"mean_c": round(float(e.mean()), 3), "mae_c": round(float(np.abs(e).mean()), 3),
                                  "worst_c": round(float(np.abs(e).max()), 3),
                                  "within_0_3": round(float((np.abs(e) <= 0.3).mean()), 3)}
    by_distance = {f"{d:.1f}": round(float(np.abs(errors[(22.0, d)]).max()), 3) for d in DISTANCES}
    return {"noise_lsb": noise_lsb, "calibrated_at_room_c": 22.0,
            "registration_residual_px": _rounded(calibration.registration.residual_px),
            "distance_residual_c": _rounded(calibration.distance.residual_c),
            "by_room": by_room, "worst_by_distance_at_22c": by_distance,
            "beyond_1m_flagged": f"{far_flagged}/{far_total}",
            "live_accepted": f"{live_ok}/{live_total}", "attacks_refused": f"{attack_refused}/{attack_total}",
            "measure_ms_median": round(float(np.median(measure_ms)), 2),
            "liveness_ms_median": round(float(np.median(liveness_ms)), 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="bench_thermal")
    parser.add_argument("--models", type=Path, help="unused")
    parser.add_argument("--shared", type=Path, default=SHARED, help="evaluation data (../shared)")
    parser.add_argument("--noise-lsb", type=float, default=0.0, help="ADC noise of the simulated sensor")
    args = parser.parse_args(argv)
    threshold = KioskConfig().temperature.fever_threshold_c
    results: dict = {}
    if (args.shared / "data").is_dir():
        results["fda"] = fda_figures(args.shared, threshold)
        print("skin-to-core model, FDA group 1, 10-fold CV by subject (oral, monitor mode):")
        for th, v in results["fda"].items():
            print(f"  fever >= {th} C: MAE {v['mae_c']:.3f} C  sensitivity {v['sensitivity']:.3f}  "
                  f"specificity {v['specificity']:.3f}  ({v['febrile']} febrile of {v['rows']})")
    else:
        print(f"no evaluation data at {args.shared}: FDA figures skipped")
    sim = simulated_figures(args.noise_lsb)
    results["simulated"] = sim
    print(f"simulated scenes (calibrated at 22 C; registration {sim['registration_residual_px']} px, "
          f"distance curve {sim['distance_residual_c']} C):")
    print("  room C   mean error   MAE     worst   within 0.3 C")
    for room, v in sim["by_room"].items():
        print(f"  {room:>6}   {v['mean_c']:+.3f}      {v['mae_c']:.3f}   {v['worst_c']:.3f}   {v['within_0_3']:.0%}")
    print(f"  worst error by distance at 22 C: {sim['worst_by_distance_at_22c']}")
    print(f"  beyond 1 m flagged low quality: {sim['beyond_1m_flagged']}")
    print(f"  liveness: live accepted {sim['live_accepted']}, attacks refused {sim['attacks_refused']}")
    print(f"  time per call: measure {sim['measure_ms_median']} ms, liveness {sim['liveness_ms_median']} ms (median)")
    return results


if __name__ == "__main__":
    main()
