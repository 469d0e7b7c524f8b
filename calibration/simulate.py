"""Simulated calibration sessions: the capture procedure played on the thermal scene simulator.

Thermal frames go through the MLX90640 mock bus and the real driver (drivers.mlx90640), as on a
kiosk; camera images of the warm target are drawn from the same geometry. The "true" rig may differ
from the nominal one (a sensor mounted a little off), which is what calibration must find.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from drivers.thermal.base import ThermalFrame
from kiosk.sim.thermal_scene import Emitter, Subject, ThermalScene, project_emitter, project_face
from kiosk.thermal.geometry import Rig
from kiosk.thermal.skin_core import MODEL

from . import captures

TARGET = dict(size_m=0.06, temperature_c=45.0)       # heated disc
BOARD_M = 0.20                                        # light board around it
REFERENCE_BODY_C = 37.0
BLACKBODY = Emitter(lateral_m=0.40, height_m=0.21, distance_m=1.0, size_m=0.12, temperature_c=35.0)


class VirtualClock:
    """Scene time that advances only when someone sleeps: simulated sessions run as fast as the CPU allows."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-4)


class MockThermalSensor:
    """Frames of a ThermalScene read through the MLX90640 mock bus and the real driver.

    `drift_c` is added to every pixel the mock serves (sensor offset drift); `noise_lsb` is the mock's
    ADC noise. Each `read` returns a frame measured entirely after the call began. Bus and driver
    share a virtual clock, so reading does not wait for real time.
    """

    def __init__(self, scene: ThermalScene, drift_c: float = 0.0, refresh_hz: float = 16.0,
                 noise_lsb: float = 0.0, seed: int = 0) -> None:
        from drivers.mlx90640.mock import MockMlx90640Bus
        from drivers.mlx90640.sensor import Mlx90640

        self.scene = scene
        self.drift_c = drift_c
        self.clock = VirtualClock()
        self._bus = MockMlx90640Bus(self._serve, noise_lsb=noise_lsb, seed=seed, clock=self.clock.clock,
                                    sleep=self.clock.sleep)
        self._sensor = Mlx90640(self._bus, refresh_hz=refresh_hz, clock=self.clock.clock, sleep=self.clock.sleep)
        self._sensor.open()
        self._seq = 0

    def _serve(self, t: float) -> tuple[np.ndarray, float]:
        temperatures, die_c = self.scene(t)
        return temperatures + self.drift_c, die_c

    def read(self) -> ThermalFrame:
        self._sensor.read_frame()            # may hold a subpage measured before the scene changed
        frame = self._sensor.read_frame()
        self._seq += 1
        return ThermalFrame(frame.temperatures.astype(np.float32), float(frame.ta), self.clock.now, self._seq,
                            frame.flagged, geometry=self.scene.rig.thermal_geometry)

    def close(self) -> None:
        self._sensor.close()


def target_image(rig: Rig, target: Emitter) -> np.ndarray:
    """Camera view of the heated disc on its board against a plain wall."""
    image = np.full((rig.camera.height, rig.camera.width, 3), 170, np.uint8)
    centre, radius = project_emitter(rig, target)
    half_board = rig.camera.fx * BOARD_M / 2 / target.distance_m
    shift = 4
    scale = 1 << shift
    x, y = centre
    cv2.rectangle(image, (int((x - half_board) * scale), int((y - half_board) * scale)),
                  (int((x + half_board) * scale), int((y + half_board) * scale)), (235, 235, 235), -1, cv2.LINE_AA, shift)
    cv2.circle(image, (int(round(x * scale)), int(round(y * scale))), int(round(radius * scale)), (25, 25, 25), -1,
               cv2.LINE_AA, shift)
    return image


@dataclass
class Session:
    """What a simulated calibration session captures."""

    rig: Rig                                   # the true rig
    room_c: float = 22.0
    blackbody: Optional[Emitter] = None
    drift_c: float = 0.0
    target_distances_m: tuple[float, ...] = (0.4, 0.7, 1.0)
    reference_distances_m: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)
    reference_laterals_m: tuple[float, ...] = (-0.04, 0.04)


def simulate(directory: Path, session: Session, noise_lsb: float = 0.0) -> list[Path]:
    """Write the captures of a full session (ambient, blackbody, registration, distance) to `directory`."""
    emitters = [session.blackbody] if session.blackbody else []
    scene = ThermalScene(session.rig, session.room_c, [], list(emitters))
    sensor = MockThermalSensor(scene, session.drift_c, noise_lsb=noise_lsb)
    written: list[Path] = []
    room = {"room_c": session.room_c}
    try:
        def grab(kind: str, **fields: object) -> captures.Capture:
            frame = sensor.read()
            return captures.Capture(kind, frame.temperatures, frame.ambient_c, {**room, **fields})

        for _ in range(2):
            written.append(captures.save(directory, grab("ambient")))
        if session.blackbody:
            for _ in range(2):
                written.append(captures.save(directory, grab("blackbody",
                                                             set_point_c=session.blackbody.temperature_c)))
        for d in session.target_distances_m:
            for lateral, height in itertools.product((-0.3, 0.0, 0.3), (-0.14, 0.0, 0.14)):
                target = Emitter(lateral * d, height * d, d, disc=True, **TARGET)
                scene.emitters = [target, *emitters]
                capture = grab("registration", distance_m=d)
                capture.camera_image = target_image(session.rig, target)
                written.append(captures.save(directory, capture))
        scene.emitters = list(emitters)
        canthus, forehead = MODEL.skin(REFERENCE_BODY_C, session.room_c)
        for d, lateral in itertools.product(session.reference_distances_m, session.reference_laterals_m):
            subject = Subject(d, lateral_m=lateral, body_c=REFERENCE_BODY_C)
            scene.subjects = [subject]
            face = project_face(session.rig, subject)
            written.append(captures.save(directory, grab(
                "distance", frame_size=[session.rig.camera.width, session.rig.camera.height],
                face={"box": list(face.box), "keypoints": face.keypoints.tolist()},
                canthus_c=round(canthus, 3), forehead_c=round(forehead, 3))))
    finally:
        sensor.close()
    return written
