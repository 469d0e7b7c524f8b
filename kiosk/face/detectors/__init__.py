"""Face detectors behind one interface (`FaceDetector.detect(frame) -> list[Detection]`).

`DETECTORS` maps `face.detector` to a factory; a new detector is its module here, a `DetectorKind`
value (kiosk/config/face.py) and one `@DETECTORS.register(...)` factory below.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drivers.registry import Registry

from ...config.face import DetectorKind, FaceConfig
from ..spec import load_spec
from .base import Detection, FaceDetector, KeypointLayout

DetectorFactory = Callable[[FaceConfig, Path], FaceDetector]
DETECTORS: Registry[DetectorFactory] = Registry("face detector", "face.detector")


def create_detector(config: FaceConfig, models_dir: Path) -> FaceDetector:
    """The detector named by `face.detector`; raises ModelError for a missing or bad model file."""
    return DETECTORS.get(config.detector)(config, models_dir)


@DETECTORS.register(DetectorKind.blazeface_short.value)
@DETECTORS.register(DetectorKind.blazeface_full.value)
def _blazeface(config: FaceConfig, models_dir: Path) -> FaceDetector:
    from .blazeface import BlazeFaceDetector

    spec = load_spec(models_dir, config.detector.value)
    return BlazeFaceDetector(spec, models_dir, config.detection_threshold, config.num_threads)


@DETECTORS.register(DetectorKind.yunet.value)
def _yunet(config: FaceConfig, models_dir: Path) -> FaceDetector:
    from .yunet import YuNetDetector

    if config.yunet_model is None:
        raise ValueError("face.detector = 'yunet' needs face.yunet_model (path of the YuNet .onnx file)")
    return YuNetDetector(config.yunet_model, config.detection_threshold)


@DETECTORS.register(DetectorKind.mediapipe.value)
def _mediapipe(config: FaceConfig, models_dir: Path) -> FaceDetector:
    from .mediapipe_tasks import MediaPipeTasksDetector

    spec = load_spec(models_dir, DetectorKind.blazeface_short.value)
    return MediaPipeTasksDetector(spec.model_path(models_dir), config.detection_threshold)


__all__ = ["DETECTORS", "Detection", "FaceDetector", "KeypointLayout", "create_detector"]
