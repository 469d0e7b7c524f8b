"""The simulated world: one walk-up script seen by the mock camera and the mock MLX90640.

Both devices sample the same script at the same instant (scene time = seconds on the simulator's clock since a
device first looked at the scene x `sim.speed`), so the face the camera shows is where the thermal sensor sees the
warm face (or the cold photo). The camera frames go through `drivers.camera.mock.MockCamera`; the thermal scene
goes through `drivers.mlx90640.mock.MockMlx90640Bus` and the real I2C driver.

The devices, and so the frame timestamps the daemon decides on, take their time from `SimWorld.clock`, a
`PacedClock` that waits for the kiosk (kiosk/sim/clock.py, pacing.py): a busy machine slows the scene down instead
of letting walk-ups pass unseen.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional, Protocol

import cv2
import numpy as np

from ..config import KioskConfig
from ..thermal import rig_from_config
from .assets import check_assets
from .camera_scene import SourcePhoto, draw_mask, draw_subject, office_background
from .clock import PacedClock, Participant
from .pacing import Pacing, pacing_for
from .thermal_scene import ThermalScene, project_face, subject_for
from .walkups import Presentation, Script, SubjectState, Timing


class FaceDetector(Protocol):
    """What the simulator needs: faces with keypoints in BlazeFace order, i.e. the pipeline's raw detector
    (`FacePipeline.detector`), not `FacePipeline.detect`, whose points are the landmark stage's five."""

    def detect(self, image_bgr: np.ndarray) -> list: ...


class SimulationError(Exception):
    """The simulator cannot start (demo photos missing, no face in a photo)."""


def load_photos(assets_dir: Path, script: Script, detector: FaceDetector) -> dict[tuple[str, bool], SourcePhoto]:
    """Each photo the script shows (mirrored where asked), with its face keypoints."""
    problems = check_assets(assets_dir)
    if problems:
        raise SimulationError(problems[0])
    photos: dict[tuple[str, bool], SourcePhoto] = {}
    for walkup in script.walkups:
        key = (walkup.photo, walkup.mirror)
        if key in photos:
            continue
        image = cv2.imread(str(assets_dir / walkup.photo), cv2.IMREAD_COLOR)
        if image is None:
            raise SimulationError(f"{assets_dir / walkup.photo}: not a readable image")
        if walkup.mirror:
            image = cv2.flip(image, 1)
        faces = detector.detect(image)
        if not faces:
            raise SimulationError(f"{assets_dir / walkup.photo}: no face found in the demo photo")
        photos[key] = SourcePhoto(image, faces[0].keypoints)
    return photos


def cast(assets_dir: Path) -> list[dict]:
    return json.loads((assets_dir / "cast.json").read_text())["people"]


class SimWorld:
    def __init__(self, config: KioskConfig, script: Script, photos: dict[tuple[str, bool], SourcePhoto],
                 speed: float = 1.0, pacing: Optional[Pacing] = None, clock: Optional[PacedClock] = None) -> None:
        """`pacing`: who the scene waits for (None: nobody, the wall clock); `clock`: a clock of the tests'."""
        self.config = config
        self.speed = speed
        self.script = script
        self.photos = photos
        self.pacing = pacing
        self.rig = rig_from_config(config)
        self.thermal_scene = ThermalScene(self.rig, room_c=config.sim.room_c)
        self._background = office_background(config.camera.width, config.camera.height)
        self.clock = clock or PacedClock(pacing.max_hold_s if pacing is not None else math.inf)
        self._t0: Optional[float] = None   # the scene starts when a device first looks (not while the kiosk starts)
        self._lock = threading.Lock()   # the camera and the thermal reader threads both sample the scene

    @classmethod
    def from_config(cls, config: KioskConfig, detector: FaceDetector) -> SimWorld:
        timing = Timing(dwell_s=config.sim.dwell_s)
        script = Script.from_names(config.sim.walkups, timing, loop=config.sim.loop)
        return cls(config, script, load_photos(config.sim_assets_dir, script, detector), speed=config.sim.speed,
                   pacing=pacing_for(config))

    def recognition_pace(self) -> Optional[Participant]:
        """What the recognition stage marks with each frame it has finished (None: the scene does not wait for it)."""
        return self.clock.participant("recognition", self.pacing.recognition_lead_s) if self.pacing else None

    def thermal_reader_time(self) -> tuple[Callable[[], float], Callable[[float], None]]:
        """The thermal driver's `clock` and `sleep`: its looks at the clock tell the scene it keeps up."""
        lag = self.pacing.thermal_lag_s if self.pacing is not None else None
        if lag is None:
            return self.clock.now, time.sleep
        reader = self.clock.participant("thermal reader", lag)
        return reader.now, reader.sleep

    def scene_time(self, now: Optional[float] = None) -> float:
        now = self.clock.now() if now is None else now
        if self._t0 is None:
            with self._lock:
                self._t0 = now if self._t0 is None else self._t0
        return (now - self._t0) * self.speed

    def state(self, now: Optional[float] = None) -> Optional[SubjectState]:
        return self.script.at(self.scene_time(now))

    def render_camera(self, now: float) -> np.ndarray:
        """The camera frame at time `now` of `self.clock` (MockCamera's renderer)."""
        frame = self._background.copy()
        state = self.state(now)
        if state is None:
            return frame
        subject = subject_for(state)
        target = project_face(self.rig, subject).keypoints
        walkup = state.walkup
        draw_subject(frame, self.photos[(walkup.photo, walkup.mirror)], target,
                     printed=walkup.presentation != Presentation.live)
        if walkup.mask:
            draw_mask(frame, target)
        return frame

    def thermal(self, _bus_time: float) -> tuple[np.ndarray, float]:
        """The thermal scene (MockMlx90640Bus's scene callable), sampled on the shared clock."""
        state = self.state()
        with self._lock:
            self.thermal_scene.subjects = [subject_for(state)] if state is not None else []
            return self.thermal_scene()
