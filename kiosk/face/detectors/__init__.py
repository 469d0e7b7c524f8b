"""Face detectors behind one interface (`FaceDetector.detect(frame) -> list[Detection]`)."""
from __future__ import annotations

from pathlib import Path

from ...config.face import DetectorKind, FaceConfig
from ..spec import load_spec
from .base import Detection, FaceDetector, KeypointLayout


def create_detector(config: FaceConfig, models_dir: Path) -> FaceDetector:
    """The detector named by `face.detector`; raises ModelError for a missing or bad model file."""
    if config.detector == DetectorKind.yunet:
        from .yunet import YuNetDetector

        if config.yunet_model is None:
            raise ValueError("face.detector = 'yunet' needs face.yunet_model (path of the YuNet .onnx file)")
        return YuNetDetector(config.yunet_model, config.detection_threshold)
    if config.detector == DetectorKind.mediapipe:
        from .mediapipe_tasks import MediaPipeTasksDetector

        spec = load_spec(models_dir, DetectorKind.blazeface_short.value)
        return MediaPipeTasksDetector(spec.model_path(models_dir), config.detection_threshold)
    from .blazeface import BlazeFaceDetector

    spec = load_spec(models_dir, config.detector.value)
    return BlazeFaceDetector(spec, models_dir, config.detection_threshold, config.num_threads)


__all__ = ["Detection", "FaceDetector", "KeypointLayout", "create_detector"]
