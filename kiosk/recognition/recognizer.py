"""Per-frame work of the recognition stage: faces, identity, temperature, liveness.

Runs in the daemon's single inference thread (the face pipeline and the thermometer keep
per-thread state), never on the event loop.

Masked faces (config `[mask] upper_face`): a face whose mask score is at least `mask.threshold` is
matched by its upper-face embedding (kiosk.face.masked) against the upper-face gallery, at the
threshold the security level gives for that space's own stranger scores and its size. Masked and
bare frames are fused apart (two TrackFusions, both following the one face's box and clock), so a
walk-up whose mask score crosses the threshold never averages vectors of two spaces. The whole face
is used instead where the model has no upper-face stranger scores or nobody has upper-face templates.
"""
from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

from drivers.camera.base import Frame
from drivers.thermal.base import ThermalFrame

from ..config import KioskConfig
from ..face.openset import OpenSetPoint
from ..face.pipeline import FacePipeline
from ..store import Store
from ..thermal import Calibration, FaceThermometer, liveness
from ..types import Box, FaceObservation
from .fusion import TrackFusion
from .matching import Matcher
from .observations import FaceSample, PersonInfo

log = logging.getLogger("kiosk.recognizer")

MAX_THERMAL_AGE_S = 0.5   # a camera sighting this close to the thermal measurement stands for it
MAX_STILL_SPAN_S = 2.0    # a face seen still from before the measurement until now: a thermal frame this old is used
MAX_MOTION = 0.1          # face moved more than this fraction of its width between the two captures: skip thermal


@dataclass
class FrameResult:
    timestamp: float                       # camera capture time (monotonic)
    samples: list[FaceSample]
    latencies: dict[str, float] = field(default_factory=dict)   # seconds per stage


class Recognizer:
    def __init__(self, config: KioskConfig, pipeline: FacePipeline, matcher: Matcher, store: Store,
                 calibration: Calibration, upper_matcher: Optional[Matcher] = None) -> None:
        """`upper_matcher`: the gallery of `pipeline.upper_model_id`, for masked faces (None: match them whole)."""
        self.config = config
        self.pipeline = pipeline
        self.matcher = matcher
        self.upper_matcher = upper_matcher
        self.store = store
        self.calibration = calibration
        self.security: Optional[OpenSetPoint] = None   # the threshold in force and what to expect of it
        self.upper_security: Optional[OpenSetPoint] = None   # the same for masked faces (None: matched whole)
        self.reconfigure()
        self.alignment = ThermalAlignment(config.thermal.subpage_hz)
        self._thermal_used: Optional[int] = None   # seq of the last thermal frame measured

    def reconfigure(self) -> None:
        """Take up the current configuration (after a live reload); call it on the inference thread."""
        rec = self.config.recognition
        self.security = self.upper_security = None
        self._follow_gallery_size()
        self.fusion = TrackFusion(self.pipeline.metric, self.threshold, rec.fusion_frames, rec.track_timeout_s)
        self.upper_fusion = TrackFusion(self.pipeline.metric, self.upper_threshold, rec.fusion_frames,
                                        rec.track_timeout_s)
        if self.config.mask.upper_face and self.upper_matcher is not None and self.pipeline.upper_stranger_scores is None \
                and not rec.threshold:
            log.warning(f"{self.pipeline.spec.id} has no upper-face stranger scores: masked faces are matched by the "
                        "whole face (measure them with `kiosk eval strangers DIR --upper-face`)")
        self.thermometer = FaceThermometer(self.calibration, self.config.temperature)

    def _follow_gallery_size(self) -> None:
        """The threshold follows the number of templates a walk-up is compared with (the security level names a
        share of strangers accepted per walk-up); recomputed only when people were enrolled or erased."""
        size = len(self.matcher)
        previous = self.security
        if previous is None or previous.gallery_size != size:
            self.security = self.pipeline.operating_point(self.config.recognition, size)
            self.threshold = self.security.threshold
            if previous is not None:
                self.fusion.max_distance = self.threshold
            _log_point(previous, self.security)
        if self.upper_matcher is None:
            return
        size = len(self.upper_matcher)
        previous = self.upper_security
        if previous is None or previous.gallery_size != size:
            self.upper_security = self.pipeline.upper_operating_point(self.config.recognition, size)
            if self.upper_security is not None:
                if previous is not None:
                    self.upper_fusion.max_distance = self.upper_security.threshold
                _log_point(previous, self.upper_security)

    @property
    def upper_threshold(self) -> float:
        """The distance threshold in force for masked faces (upper-face space); inf when there is none."""
        return self.upper_security.threshold if self.upper_security is not None else math.inf

    def _masked(self, face: FaceObservation) -> bool:
        """Match this face by its upper face: configured, masked, and an upper-face gallery and threshold exist."""
        return (self.config.mask.upper_face and face.mask_score is not None
                and face.mask_score >= self.config.mask.threshold and self.upper_security is not None
                and self.upper_matcher is not None and len(self.upper_matcher) > 0)

    def security_now(self) -> OpenSetPoint:
        """The operating point at the gallery's size right now (health report; pure, safe from any thread).
        The next walk-up takes it up before matching."""
        return self.pipeline.operating_point(self.config.recognition, len(self.matcher))

    def upper_security_now(self) -> Optional[OpenSetPoint]:
        """The operating point for masked faces at the upper-face gallery's size (health report); None when
        masked faces are matched whole (mask.upper_face off, or no upper-face stranger scores)."""
        if not self.config.mask.upper_face or self.upper_matcher is None:
            return None
        return self.pipeline.upper_operating_point(self.config.recognition, len(self.upper_matcher))

    @property
    def duplicate_threshold(self) -> float:
        """For enrollment's same-face check and look-alike warnings, which compare one face with one person: the
        level's FPIR taken as a per-comparison rate (N = 1), looser than the 1:N threshold. Duplicates are refused
        at the threshold in force (kiosk.recognition.enroll)."""
        return self.pipeline.threshold_for(self.config.recognition, 1)

    def process(self, frame: Frame, thermal: Optional[ThermalFrame]) -> FrameResult:
        latencies: dict[str, float] = {}
        started = time.perf_counter()
        faces = self.pipeline.process(frame.image)
        latencies["face"] = time.perf_counter() - started
        result = FrameResult(frame.timestamp, [], latencies)
        if not faces:
            return result
        face = faces[0]   # the person in front of the kiosk: the largest face
        self.alignment.seen(frame.timestamp, face.box)
        sample = FaceSample(face)
        self._follow_gallery_size()
        masked = face.embedding is not None and self._masked(face)
        upper = None
        if masked:
            started = time.perf_counter()
            upper = self.pipeline.upper_observation(frame.image, face)
            latencies["upper_face"] = time.perf_counter() - started
        # Both fusions see every frame's box and time; each fuses only the frames of its own space.
        self.fusion.add(None if masked else face.embedding, face.score, face.box, frame.timestamp)
        self.upper_fusion.add(upper, face.score, face.box, frame.timestamp)
        if face.embedding is not None:
            started = time.perf_counter()
            # The walk-up so far, not this frame alone (see kiosk.recognition.fusion). The policy checks the margin
            # itself (ambiguous_match), so the matcher does not filter on it.
            if masked:
                assert self.upper_matcher is not None
                sample.match = self.upper_fusion.search(self.upper_matcher, self.upper_threshold)
            else:
                sample.match = self.fusion.search(self.matcher, self.threshold)
            if sample.match.person_id is not None:
                person = self.store.person_by_id(sample.match.person_id)
                if person is not None:
                    sample.person = PersonInfo.from_record(person.person_id, person.record())
            latencies["match"] = time.perf_counter() - started
        # Each thermal frame gives at most one reading: the camera runs faster than the thermopile, and
        # counting one thermal frame several times would let a single bad frame outvote good ones.
        if (thermal is not None and thermal.seq != self._thermal_used
                and self.alignment.matches(frame.timestamp, thermal.timestamp, face.box)):
            self._thermal_used = thermal.seq
            started = time.perf_counter()
            size = (frame.image.shape[1], frame.image.shape[0])
            sample.temperature = self.thermometer.measure(thermal, face, size)
            if self.config.liveness.enabled:
                sample.liveness = liveness(thermal, face, size, self.calibration, self.config.liveness,
                                           self.config.temperature.ambient_sensor_c,
                                           self.config.temperature.max_distance_m)
            latencies["thermal"] = time.perf_counter() - started
        result.samples.append(sample)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("frame", extra={"fields": {**_describe(frame, thermal, sample, len(self.fusion)),
                                                 "upper_face": masked}})
        return result


def _log_point(previous: Optional[OpenSetPoint], point: OpenSetPoint) -> None:
    """A new operating point: INFO (WARNING when the level cannot be met); DEBUG when only N moved."""
    if previous is not None and bool(previous.warning) == bool(point.warning):
        log.debug(point.line())
    elif point.warning:
        log.warning(point.line())
    else:
        log.info(point.line())


class ThermalAlignment:
    """Decides whether a thermal frame still shows the face where the camera sees it now.

    The two sensors are not synchronised: a thermal frame is finished up to one full frame
    after its subpages were measured. Mapping a moving face into an older thermal frame would
    measure the background (a false "not live") or half a face (a wrong temperature), so the
    thermal frame is used only when the face stood still between the two captures: the face was
    seen at the measurement (within MAX_THERMAL_AGE_S), or before it and every time since (up to
    MAX_STILL_SPAN_S), always within MAX_MOTION of where it is now. The second case keeps readings
    coming when recognition runs at a few frames a second (a slow or busy device), where no
    sighting falls close to the measurement.
    """

    def __init__(self, refresh_hz: Optional[float]) -> None:
        self.subpage_s = 1.0 / refresh_hz if refresh_hz else 0.0   # None: no sensor, no frames to align
        self._boxes: deque[tuple[float, Box]] = deque(maxlen=64)

    def seen(self, t: float, box: Box) -> None:
        self._boxes.append((t, box))

    def matches(self, camera_t: float, thermal_t: float, box: Box) -> bool:
        measured_at = thermal_t - self.subpage_s    # between the frame's two subpages
        if thermal_t - camera_t > MAX_THERMAL_AGE_S or camera_t - measured_at > MAX_STILL_SPAN_S:
            return False
        near = [t for t, _ in self._boxes if abs(t - measured_at) <= MAX_THERMAL_AGE_S]
        before = [t for t, _ in self._boxes if measured_at - MAX_STILL_SPAN_S <= t <= measured_at]
        if near:
            start = min(near, key=lambda t: abs(t - measured_at))
        elif before:
            start = max(before)
        else:
            return False
        return all(_motion(seen, box) <= MAX_MOTION for t, seen in self._boxes if start <= t <= camera_t)


def _motion(a: Box, b: Box) -> float:
    """How far a face box moved or changed size, as a fraction of its width."""
    width = max(1.0, a[2] - a[0])
    shift = max(abs((a[0] + a[2]) - (b[0] + b[2])), abs((a[1] + a[3]) - (b[1] + b[3]))) / 2
    return max(shift / width, abs((b[2] - b[0]) / width - 1.0))


def _describe(frame: Frame, thermal: Optional[ThermalFrame], sample: FaceSample, fused: int) -> dict:
    """One DEBUG line per frame: what each stage saw (for tuning on site)."""
    face, match, reading, live = sample.face, sample.match, sample.temperature, sample.liveness
    return {"seq": frame.seq, "face_px": round(face.width), "quality": face.quality.reason or "ok",
            "person": match.person_id if match else None, "fused_frames": fused,
            "distance": round(match.distance, 3) if match else None,
            "thermal_lag_s": round(frame.timestamp - thermal.timestamp, 3) if thermal else None,
            "body_c": round(reading.body_c, 2) if reading and reading.body_c is not None else None,
            "t_quality": round(reading.quality, 2) if reading else None,
            "live": f"{live.live}:{live.score:.2f}:{live.reason}" if live else None}
