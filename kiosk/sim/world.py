"""The simulated world: one walk-up script seen by the mock camera and the mock MLX90640.

Both devices sample the same script at the same instant (scene time = seconds since start x
`sim.speed`), so the face the camera shows is where the thermal sensor sees the warm face
(or the cold photo). The camera frames go through `drivers.camera.mock.MockCamera`; the thermal
scene goes through `drivers.mlx90640.mock.MockMlx90640Bus` and the real I2C driver.
"""
from __future__ import annotations

import json
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
                 speed: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.speed = speed
        self.script = script
        self.photos = photos
        self.rig = rig_from_config(config)
        self.thermal_scene = ThermalScene(self.rig, room_c=config.sim.room_c)
        self._background = office_background(config.camera.width, config.camera.height)
        self._clock = clock
        self._t0 = clock()
        self._lock = threading.Lock()   # the camera and the thermal reader threads both sample the scene

    @classmethod
    def from_config(cls, config: KioskConfig, detector: FaceDetector) -> SimWorld:
        timing = Timing(dwell_s=config.sim.dwell_s)
        script = Script.from_names(config.sim.walkups, timing, loop=config.sim.loop)
        return cls(config, script, load_photos(config.sim_assets_dir, script, detector), speed=config.sim.speed)

    def scene_time(self, now: Optional[float] = None) -> float:
        return ((self._clock() if now is None else now) - self._t0) * self.speed

    def state(self, now: Optional[float] = None) -> Optional[SubjectState]:
        return self.script.at(self.scene_time(now))

    def render_camera(self, now: float) -> np.ndarray:
        """The camera frame at monotonic time `now` (MockCamera's renderer)."""
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
        with self._lock:
            state = self.state()
            self.thermal_scene.subjects = [subject_for(state)] if state is not None else []
            return self.thermal_scene()
