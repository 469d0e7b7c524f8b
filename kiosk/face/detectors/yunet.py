"""OpenCV YuNet (`cv2.FaceDetectorYN`): five keypoints (eyes, nose tip, mouth corners), better alignment.

The model file is not a default: set `face.yunet_model` to a `face_detection_yunet_*.onnx` file.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError
from .base import Detection, FaceDetector, KeypointLayout, largest_first


class YuNetDetector(FaceDetector):
    name = "yunet"
    layout = KeypointLayout.five_point

    def __init__(self, model_path: Path, score_threshold: float = 0.6, nms_threshold: float = 0.3) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(path, "missing (face.yunet_model)")
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_threshold, 5000)
        except cv2.error as exc:
            raise ModelError(path, f"not a loadable YuNet model ({str(exc).strip().splitlines()[-1]})") from None
        self._size: tuple[int, int] | None = None

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        height, width = image_bgr.shape[:2]
        if self._size != (width, height):
            self._net.setInputSize((width, height))
            self._size = (width, height)
        _, faces = self._net.detect(image_bgr)
        if faces is None:
            return []
        detections = []
        for row in faces:
            x, y, w, h = (float(v) for v in row[:4])
            points = np.asarray(row[4:14], np.float32).reshape(5, 2)
            detections.append(Detection((x, y, x + w, y + h), float(row[14]), points, self.layout))
        return largest_first(detections)
