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

import logging
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..config.face import FaceConfig
from ..config.recognition import SECURITY_LEVEL_FPIR, RecognitionConfig, SecurityLevel
from ..types import FaceObservation
from .choice import choose_embedder
from .detectors import create_detector
from .detectors.base import Detection, KeypointLayout
from .ensemble import create_embedder
from .errors import FaceError, ModelError
from .images import as_bgr
from .landmarks import create_landmarks
from .mask_memory import RecentMaskScores
from .mask_scorer import MaskScorer, create_mask_scorer
from .masked import masked_chips, upper_face, upper_space_id
from .metrics import FAR_TARGETS, distance, distances
from .openset import OpenSetPoint, fixed_threshold_point, open_set_point
from .photo_faces import the_one_face
from .pinned_scores import pinned_upper_stranger_scores
from .quality import assess
from .spec import Metric, StrangerScores, load_spec, spec_path

log = logging.getLogger("kiosk.face")


class FacePipeline:
    def __init__(self, config: FaceConfig, models_dir: Path) -> None:
        """Loads and checks every model; raises ModelError naming the file and `kiosk models install`.

        Also sets OpenCV's thread pool (process-wide) to `num_threads`: its workers spin-wait for work,
        which on these small images saved no time but cost about 12% of a core in the daemon, more while
        another process (the kiosk screen's browser) competes for the cores (bench/bench_web_cpu.py)."""
        cv2.setNumThreads(config.num_threads)
        self.config = config
        self.models_dir = Path(models_dir)
        self.detector = create_detector(config, self.models_dir)
        self.landmarks = create_landmarks(config, self.models_dir)
        self.mask: MaskScorer = create_mask_scorer(config, self.models_dir)
        self._recent_masks = RecentMaskScores(config.mask_every_s)
        choice = choose_embedder(config.embedder, self.models_dir)
        log.info(choice.log_line, extra={"fields": {"embedder": choice.model_id}})
        self.spec = load_spec(self.models_dir, choice.model_id)
        self.embedder = create_embedder(self.spec, self.models_dir, config.num_threads, self.landmarks.name)
        self.model_id: str = self.embedder.model_id
        self.metric: Metric = self.embedder.metric
        self.dim: int = self.embedder.dim
        # The upper-face space's stranger scores (pinned with the package), or None: read once, not per health tick.
        self.upper_stranger_scores: Optional[StrangerScores] = pinned_upper_stranger_scores(self.spec.id)

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
        return [self._observe(image, d, camera=True) for d in self.detector.detect(image)]

    def _observe(self, image: np.ndarray, detection: Detection, camera: bool = False) -> FaceObservation:
        """`camera`: a frame of a sequence, whose mask scores may be reused for `face.mask_every_s`."""
        face = self.landmarks.refine(image, detection)
        chip = self.embedder.chip(image, face.keypoints, face.layout)
        quality = assess(face, chip, self.config)
        mask_score = (self._recent_masks.score(detection.box, lambda: self.mask.score(image, face)) if camera
                      else self.mask.score(image, face))
        observation = FaceObservation(box=detection.box, score=detection.score, keypoints=detection.keypoints,
                                      quality=quality, model_id=self.model_id, mask_score=mask_score,
                                      landmarks=None if face is detection else face.keypoints)
        if quality.ok:
            observation.embedding = self.embedder.embed_face(image, face.keypoints, face.layout, chip)
        return observation

    def embed_for_enrollment(self, image_bgr: np.ndarray) -> FaceObservation:
        """The photo's one face with its embedding; FaceError for no face, two people or a quality reason
        (kiosk.face.photo_faces: large photos are searched at smaller scales, background faces ignored).

        Also the way to re-embed a person from a kept source image after a model change.
        """
        image = as_bgr(image_bgr)
        observation = self._observe(image, the_one_face(self.detector, image))
        if not observation.quality.ok:
            raise FaceError(observation.quality.reason or "face quality too low")
        return observation

    def embed_detection(self, image_bgr: np.ndarray, detection: Detection) -> np.ndarray:
        """The embedding of one detected face (from `detect`) without the quality gates (evaluation, benchmarks)."""
        image = as_bgr(image_bgr)
        return self.embedder.embed_face(image, detection.keypoints, detection.layout)

    # -- masked faces (kiosk.face.masked) ------------------------------------------------------
    @property
    def upper_model_id(self) -> str:
        """Id of the upper-face vector space of this model (stored apart from whole-face templates)."""
        return upper_space_id(self.model_id)

    def alignment_points(self, observation: FaceObservation) -> tuple[np.ndarray, KeypointLayout]:
        """The points a face was aligned on: the landmark stage's five, else the detector's keypoints."""
        if observation.landmarks is not None:
            return observation.landmarks, KeypointLayout.five_point
        return observation.keypoints, self.keypoint_layout

    def masked_embeddings(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout
                          ) -> list[np.ndarray]:
        """Embeddings of the face aligned on `keypoints` with each synthetic mask style drawn on the chip."""
        return self.embedder.embed_variants(as_bgr(image_bgr), keypoints, layout, masked_chips)

    def upper_embedding(self, image_bgr: np.ndarray, keypoints: np.ndarray, layout: KeypointLayout) -> np.ndarray:
        """The upper-face embedding (lower face greyed out) of the face aligned on `keypoints`."""
        return self.embedder.embed_variants(as_bgr(image_bgr), keypoints, layout,
                                            lambda chip, template: [upper_face(chip, template)])[0]

    def upper_observation(self, image_bgr: np.ndarray, observation: FaceObservation) -> np.ndarray:
        """The upper-face embedding of a face `process` observed (aligned on the same points)."""
        return self.upper_embedding(image_bgr, *self.alignment_points(observation))

    def upper_operating_point(self, recognition: RecognitionConfig, gallery_size: int) -> Optional[OpenSetPoint]:
        """As `operating_point`, for the upper-face space with `gallery_size` upper-face templates: the security
        level's (or `recognition.fpir`'s) FPIR on that space's own stranger scores; a fixed `recognition.threshold`
        applies to it as well. None when the model has no upper-face stranger scores (masked faces are then
        matched whole)."""
        scores = self.upper_stranger_scores
        if recognition.threshold:
            return fixed_threshold_point(scores, recognition.threshold, gallery_size)
        if scores is None:
            return None
        return _fpir_point(scores, recognition, gallery_size, ", upper face")

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
        """Per-comparison distance threshold per security level (FAR 1e-2 / 1e-3 / 1e-4), from the spec's
        `thresholds`; used only for a model without `stranger_scores`."""
        values = self.spec.thresholds or {}
        return {level: float(values[level.value]) for level in SecurityLevel if level.value in values}

    def operating_point(self, recognition: RecognitionConfig, gallery_size: int) -> OpenSetPoint:
        """The threshold in force with `gallery_size` templates enrolled, its expected FPIR and FNIR, and a
        warning when the level cannot be met. `recognition.threshold` (fixed) wins over `recognition.fpir`,
        which wins over the security level's FPIR. A spec without `stranger_scores` falls back to its
        per-comparison `thresholds`, with a warning that the share of strangers accepted then grows with N."""
        scores = self.spec.stranger_scores
        if recognition.threshold:
            return fixed_threshold_point(scores, recognition.threshold, gallery_size)
        level = recognition.security_level
        if scores is not None:
            return _fpir_point(scores, recognition, gallery_size)
        if recognition.fpir is not None:
            raise ModelError(spec_path(self.models_dir, self.spec.id),
                             "recognition.fpir needs the spec's stranger_scores; measure them with "
                             "`kiosk eval strangers DIR --write-spec`, or set recognition.threshold")
        return OpenSetPoint(level.value, gallery_size, self.threshold(level), None, None, None,
                            warning=f"{self.spec.id} has no stranger_scores: the threshold is a per-comparison "
                                    f"FAR of {FAR_TARGETS[level]:g}, so the share of strangers accepted grows with "
                                    "the number enrolled; measure them with `kiosk eval strangers DIR --write-spec`")

    def threshold_for(self, recognition: RecognitionConfig, gallery_size: int) -> float:
        """The distance threshold in force with `gallery_size` templates compared per probe (see operating_point).

        Pass the matcher's size for recognition; pass 1 for a one-to-one comparison (enrollment's duplicate
        and same-face checks: the level's FPIR is then a per-comparison false-match rate)."""
        return self.operating_point(recognition, gallery_size).threshold

    def threshold(self, level: SecurityLevel) -> float:
        """The spec's per-comparison threshold for a level (accept when distance <= threshold); ModelError when
        the spec has no value for it."""
        thresholds = self.thresholds
        if level not in thresholds:
            raise ModelError(spec_path(self.models_dir, self.spec.id),
                             f"no threshold for security level {level.value} (FAR {FAR_TARGETS[level]:g}) and no "
                             "stranger_scores; measure them with `kiosk eval strangers DIR --write-spec`, "
                             "or set recognition.threshold")
        return thresholds[level]


def _fpir_point(scores: StrangerScores, recognition: RecognitionConfig, gallery_size: int,
                space: str = "") -> OpenSetPoint:
    """The operating point of `recognition.fpir`, else of the security level's FPIR, on `scores`."""
    if recognition.fpir is not None:
        return open_set_point(scores, recognition.fpir, gallery_size, f"fpir override{space}")
    level = recognition.security_level
    return open_set_point(scores, SECURITY_LEVEL_FPIR[level], gallery_size, f"{level.value}{space}")
