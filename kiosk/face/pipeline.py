"""FacePipeline: frame in, faces out (box, keypoints, quality, mask score and, when good, an embedding).

Stages: detect -> landmarks (eye centres, nose tip, mouth corners; kiosk.face.landmarks) -> align
to the embedding model's template -> quality gates -> embed; the mask score is computed for every
face. Configuration: the `[face]` section (kiosk.config.face).

Thread-safety: a FacePipeline holds TFLite interpreters, which are not thread-safe. The daemon
calls `process` from ONE worker thread (never from the asyncio loop, never from two threads at
once). Enrollment tools that run elsewhere create their own FacePipeline.

Model identity: `model_id` (for example `dlib_resnet_v1@b21043042f08`, the spec id plus the first
12 hex digits of the model file's sha256) is stored with every template, so vectors of two models
are never compared. It stays the same as long as the model file's bytes do. After a model change
the store re-embeds persons from their kept source images with `embed_for_enrollment`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config.face import FaceConfig
from ..config.recognition import RecognitionConfig, SecurityLevel
from ..types import FaceObservation
from .detectors import create_detector
from .detectors.base import Detection, KeypointLayout
from .embedder import Embedder
from .errors import FaceError, ModelError
from .images import as_bgr
from .landmarks import create_landmarks
from .mask import mask_score
from .metrics import FAR_TARGETS, distance, distances
from .quality import assess
from .spec import Metric, load_spec, spec_path

NO_FACE = "no face found"


class FacePipeline:
    def __init__(self, config: FaceConfig, models_dir: Path) -> None:
        """Loads and checks every model; raises ModelError naming the file and `kiosk models install`."""
        self.config = config
        self.models_dir = Path(models_dir)
        self.detector = create_detector(config, self.models_dir)
        self.landmarks = create_landmarks(config, self.models_dir)
        self.spec = load_spec(self.models_dir, config.embedder)
        self.embedder = Embedder(self.spec, self.models_dir, config.num_threads, self.landmarks.name)
        self.model_id: str = self.embedder.model_id
        self.metric: Metric = self.embedder.metric
        self.dim: int = self.embedder.dim

    @property
    def keypoint_layout(self) -> KeypointLayout:
        """Order of `FaceObservation.keypoints`: the detector's (see KeypointLayout).

        The thermal ROI and the simulator work in the detector's points; the landmark stage's points
        (used for alignment and the yaw gate) are `FaceObservation.landmarks`."""
        return self.detector.layout

    # -- per frame ----------------------------------------------------------------------------
    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Detected faces, largest first, with the landmark stage's points (the ones alignment uses)."""
        image = as_bgr(image_bgr)
        return [self.landmarks.refine(image, d) for d in self.detector.detect(image)]

    def process(self, image_bgr: np.ndarray) -> list[FaceObservation]:
        """Every face in the frame, largest first; `embedding` is set only when `quality.ok`.

        Raises ImageError for an input that is not an image; a frame without faces gives [].
        """
        image = as_bgr(image_bgr)
        return [self._observe(image, d) for d in self.detector.detect(image)]

    def _observe(self, image: np.ndarray, detection: Detection) -> FaceObservation:
        face = self.landmarks.refine(image, detection)
        chip = self.embedder.chip(image, face.keypoints, face.layout)
        quality = assess(face, chip, self.config)
        observation = FaceObservation(box=detection.box, score=detection.score, keypoints=detection.keypoints,
                                      quality=quality, model_id=self.model_id,
                                      mask_score=mask_score(image, face),
                                      landmarks=None if face is detection else face.keypoints)
        if quality.ok:
            observation.embedding = self.embedder.embed(chip)
        return observation

    def embed_for_enrollment(self, image_bgr: np.ndarray) -> FaceObservation:
        """The largest face with its embedding; FaceError("no face found") or FaceError(quality reason).

        Also the way to re-embed a person from a kept source image after a model change.
        """
        image = as_bgr(image_bgr)
        detections = self.detector.detect(image)
        if not detections:
            raise FaceError(NO_FACE)
        observation = self._observe(image, detections[0])
        if not observation.quality.ok:
            raise FaceError(observation.quality.reason or "face quality too low")
        return observation

    def embed_detection(self, image_bgr: np.ndarray, detection: Detection) -> np.ndarray:
        """The embedding of one detected face (from `detect`) without the quality gates (evaluation, benchmarks)."""
        image = as_bgr(image_bgr)
        return self.embedder.embed(self.embedder.chip(image, detection.keypoints, detection.layout))

    # -- comparing ----------------------------------------------------------------------------
    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two embeddings of this model; lower = more alike."""
        return distance(a, b, self.metric)

    def distances(self, gallery: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Distances of one embedding to every row of an (n, dim) gallery (1:N matching)."""
        return distances(gallery, query, self.metric)

    @property
    def metric_description(self) -> str:
        if self.metric == Metric.euclidean:
            return "Euclidean (L2) distance between the raw vectors; lower = more alike"
        return "1 - cosine similarity; lower = more alike"

    @property
    def thresholds(self) -> dict[SecurityLevel, float]:
        """Distance threshold per security level (FAR 1e-2 / 1e-3 / 1e-4 targets), from the model's spec."""
        values = self.spec.thresholds or {}
        return {level: float(values[level.value]) for level in SecurityLevel if level.value in values}

    def threshold_for(self, recognition: RecognitionConfig) -> float:
        """The distance threshold in force: `recognition.threshold` if set, else the security level's."""
        return recognition.threshold or self.threshold(recognition.security_level)

    def threshold(self, level: SecurityLevel) -> float:
        """Accept a match when distance <= threshold. ModelError when the spec has no value for the level."""
        thresholds = self.thresholds
        if level not in thresholds:
            raise ModelError(spec_path(self.models_dir, self.spec.id),
                             f"no threshold for security level {level.value} (FAR {FAR_TARGETS[level]:g}); "
                             "measure one with `kiosk eval` and add it to the spec's 'thresholds', "
                             "or set recognition.threshold")
        return thresholds[level]
