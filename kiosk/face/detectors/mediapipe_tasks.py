"""MediaPipe Tasks `FaceDetector` (optional: needs the `mediapipe` extra) on the installed BlazeFace file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import Detection, FaceDetector, KeypointLayout, largest_first


class MediaPipeTasksDetector(FaceDetector):
    name = "mediapipe"
    layout = KeypointLayout.blazeface6

    def __init__(self, model_path: Path, score_threshold: float = 0.6) -> None:
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError:
            raise RuntimeError("face.detector = 'mediapipe' needs the mediapipe package: "
                               "pip install 'kiosk[mediapipe]'") from None
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(path, "missing")
        options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(path)),
                                             min_detection_confidence=score_threshold)
        try:
            self._detector = vision.FaceDetector.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(path, f"MediaPipe cannot load it ({exc})") from None
        self._mp = mp

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        height, width = image_bgr.shape[:2]
        rgb = np.ascontiguousarray(image_bgr[..., ::-1])
        result = self._detector.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb))
        detections = []
        for face in result.detections:
            b = face.bounding_box
            points = np.array([[k.x * width, k.y * height] for k in face.keypoints], np.float32)
            score = face.categories[0].score if face.categories else 0.0
            detections.append(Detection((float(b.origin_x), float(b.origin_y), float(b.origin_x + b.width),
                                         float(b.origin_y + b.height)), float(score), points, self.layout))
        return largest_first(detections)
