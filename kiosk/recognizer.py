"""Per-frame work of the recognition stage: faces, identity, temperature, liveness.

Runs in the daemon's single inference thread (the face pipeline and the thermometer keep
per-thread state), never on the event loop.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Optional

from drivers.camera.base import Frame
from drivers.thermal.base import ThermalFrame

from .config import KioskConfig
from .face.pipeline import FacePipeline
from .matching import Matcher
from .policy import PersonInfo
from .store import Store
from .thermal import Calibration, FaceThermometer, liveness
from .tracker import FaceSample

log = logging.getLogger("kiosk.recognizer")

MAX_THERMAL_AGE_S = 0.5   # a thermal frame older than this (relative to the camera frame) is not used


@dataclass
class FrameResult:
    frame_seq: int
    timestamp: float                       # camera capture time (monotonic)
    samples: list[FaceSample]
    latencies: dict[str, float] = field(default_factory=dict)   # seconds per stage
    thermal_used: bool = False


class Recognizer:
    def __init__(self, config: KioskConfig, pipeline: FacePipeline, matcher: Matcher, store: Store,
                 calibration: Calibration) -> None:
        self.config = config
        self.pipeline = pipeline
        self.matcher = matcher
        self.store = store
        self.calibration = calibration
        self.thermometer = FaceThermometer(calibration, config.temperature)
        self.threshold = config.recognition.threshold or pipeline.threshold(config.recognition.security_level)

    def process(self, frame: Frame, thermal: Optional[ThermalFrame]) -> FrameResult:
        latencies: dict[str, float] = {}
        started = time.perf_counter()
        faces = self.pipeline.process(frame.image)
        latencies["face"] = time.perf_counter() - started
        result = FrameResult(frame.seq, frame.timestamp, [], latencies)
        if not faces:
            return result
        face = faces[0]   # the person in front of the kiosk: the largest face
        sample = FaceSample(face)
        if face.embedding is not None:
            started = time.perf_counter()
            # The policy checks the margin itself (ambiguous_match), so the matcher does not filter on it.
            sample.match = self.matcher.search(face.embedding, self.threshold)
            if sample.match.person_id is not None:
                person = self.store.person_by_id(sample.match.person_id)
                if person is not None:
                    sample.person = PersonInfo.from_record(person.person_id, person.record())
            latencies["match"] = time.perf_counter() - started
        if thermal is not None and abs(frame.timestamp - thermal.timestamp) <= MAX_THERMAL_AGE_S:
            started = time.perf_counter()
            size = (frame.image.shape[1], frame.image.shape[0])
            sample.temperature = self.thermometer.measure(thermal, face, size)
            if self.config.liveness.enabled:
                sample.liveness = liveness(thermal, face, size, self.calibration, self.config.liveness,
                                           self.config.temperature.ambient_sensor_c,
                                           self.config.temperature.max_distance_m)
            latencies["thermal"] = time.perf_counter() - started
            result.thermal_used = True
        result.samples.append(sample)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("frame", extra={"fields": _describe(frame, thermal, sample)})
        return result


def _describe(frame: Frame, thermal: Optional[ThermalFrame], sample: FaceSample) -> dict:
    """One DEBUG line per frame: what each stage saw (for tuning on site)."""
    face, match, reading, live = sample.face, sample.match, sample.temperature, sample.liveness
    return {"seq": frame.seq, "face_px": round(face.width), "quality": face.quality.reason or "ok",
            "person": match.person_id if match else None,
            "distance": round(match.distance, 3) if match else None,
            "thermal_lag_s": round(frame.timestamp - thermal.timestamp, 3) if thermal else None,
            "body_c": round(reading.body_c, 2) if reading and reading.body_c is not None else None,
            "t_quality": round(reading.quality, 2) if reading else None,
            "live": f"{live.live}:{live.score:.2f}:{live.reason}" if live else None}
