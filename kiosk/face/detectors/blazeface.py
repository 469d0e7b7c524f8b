"""MediaPipe BlazeFace (short and full range) through LiteRT, with our own anchors, decoding and NMS.

The model sees the frame letterboxed into a square (aspect kept, zero padding). For each anchor
it gives a score logit and 16 regression values: box centre offset, box size and 6 keypoints,
all in input pixels relative to the anchor centre (anchors have unit size). Overlapping
detections are merged by weighted non-maximum suppression, as MediaPipe does: the boxes and
keypoints of a cluster are averaged with the scores as weights, which steadies the keypoints
used for alignment.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..boxes import iou_many
from ..errors import ModelError
from ..runtime import TFLiteModel
from ..spec import ModelSpec
from .base import Detection, FaceDetector, KeypointLayout, box_of, largest_first


@dataclass(frozen=True)
class AnchorLayout:
    """SSD anchor grid: one (stride, anchors per cell) pair per feature map."""

    input_size: int
    levels: tuple[tuple[int, int], ...]

    def anchors(self) -> np.ndarray:
        """(n, 2) anchor centres in 0..1 input coordinates, in the model's output order."""
        centres = []
        for stride, per_cell in self.levels:
            cells = self.input_size // stride
            ys, xs = np.mgrid[0:cells, 0:cells]
            grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
            centres.append(np.repeat(grid, per_cell, axis=0))
        return np.concatenate(centres).astype(np.float32)


# MediaPipe's SsdAnchorsCalculator options for the two models, with layers of equal stride merged.
SHORT_RANGE = AnchorLayout(128, ((8, 2), (16, 6)))      # 896 anchors
FULL_RANGE = AnchorLayout(192, ((4, 1),))               # 2304 anchors
LAYOUTS = {128: SHORT_RANGE, 192: FULL_RANGE}


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))


def decode(regressors: np.ndarray, anchors: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw (n, 16) regressors -> boxes (n, 4: x1 y1 x2 y2) and keypoints (n, 6, 2), both in 0..1 input units."""
    r = regressors / float(input_size)
    cx = r[:, 0] + anchors[:, 0]
    cy = r[:, 1] + anchors[:, 1]
    half_w, half_h = r[:, 2] / 2, r[:, 3] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    keypoints = r[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    return boxes, keypoints


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = 0.3) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Clusters of overlapping detections, each merged into one (box, keypoints, best score)."""
    order = np.argsort(-scores)
    remaining = order
    merged = []
    while remaining.size:
        best = remaining[0]
        overlap = iou_many(boxes[best], boxes[remaining])
        cluster = remaining[overlap > iou_threshold]
        weights = scores[cluster][:, None]
        total = weights.sum()
        box = (boxes[cluster] * weights).sum(axis=0) / total
        points = (keypoints[cluster] * weights[:, :, None]).sum(axis=0) / total
        merged.append((box, points, float(scores[best])))
        remaining = remaining[overlap <= iou_threshold]
    return merged


class Letterbox:
    """Fits a frame into a square model input, keeping the aspect ratio; maps points back."""

    def __init__(self, frame_shape: tuple[int, ...], size: int) -> None:
        height, width = frame_shape[:2]
        self.size = size
        self.scale = size / max(height, width)
        self.new_w = max(1, int(round(width * self.scale)))
        self.new_h = max(1, int(round(height * self.scale)))
        self.pad_x = (size - self.new_w) // 2
        self.pad_y = (size - self.new_h) // 2

    def apply(self, image: np.ndarray) -> np.ndarray:
        canvas = np.zeros((self.size, self.size, 3), np.uint8)
        resized = cv2.resize(image, (self.new_w, self.new_h), interpolation=cv2.INTER_AREA)
        canvas[self.pad_y:self.pad_y + self.new_h, self.pad_x:self.pad_x + self.new_w] = resized
        return canvas

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) points in 0..1 input units -> frame pixels."""
        out = np.empty_like(points)
        out[..., 0] = (points[..., 0] * self.size - self.pad_x) / self.scale
        out[..., 1] = (points[..., 1] * self.size - self.pad_y) / self.scale
        return out


class BlazeFaceDetector(FaceDetector):
    layout = KeypointLayout.blazeface6

    def __init__(self, spec: ModelSpec, spec_dir: Path, score_threshold: float = 0.6,
                 num_threads: int = 1, iou_threshold: float = 0.3) -> None:
        self.model = TFLiteModel(spec, spec_dir, num_threads)
        self.name = spec.id
        size, height = spec.model_input_size()
        if size != height or size not in LAYOUTS:
            raise ModelError(self.model.path, f"input {spec.input_size} is not a known BlazeFace size (128 or 192)")
        self.input_size = size
        self.anchors = LAYOUTS[size].anchors()
        shapes = self.model.output_shapes
        by_width = sorted(range(len(shapes)), key=lambda i: shapes[i][-1])
        if len(shapes) != 2 or shapes[by_width[1]][-2:] != [len(self.anchors), 16] \
                or shapes[by_width[0]][-2:] != [len(self.anchors), 1]:
            raise ModelError(self.model.path, f"wrong shape: outputs {shapes}, expected [1,{len(self.anchors)},16] "
                                              f"and [1,{len(self.anchors)},1]")
        self._score_out, self._reg_out = by_width
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        letterbox = Letterbox(image_bgr.shape, self.input_size)
        outputs = self.model.run(self.model.prepare(letterbox.apply(image_bgr)))
        scores = sigmoid(outputs[self._score_out][0, :, 0])
        keep = np.flatnonzero(scores >= self.score_threshold)
        if keep.size == 0:
            return []
        boxes, keypoints = decode(outputs[self._reg_out][0, keep], self.anchors[keep], self.input_size)
        detections = []
        for box, points, score in weighted_nms(boxes, keypoints, scores[keep], self.iou_threshold):
            frame_box = letterbox.to_frame(box.reshape(2, 2)).ravel()
            detections.append(Detection(box_of(frame_box), score,
                                        letterbox.to_frame(points).astype(np.float32), self.layout))
        return largest_first(detections)
