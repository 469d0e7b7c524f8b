"""Mask score from the AIZOO face-mask SSD (MIT licence; an optional model of `kiosk models install`).

The SSD was trained by AIZOOTech on about 8,000 real photos (WIDER Face and MAFA) to find faces and
tell masked from bare ones, which is what the learned classifier (kiosk.face.mask), trained on
synthetic masks, lacks: real masks come in every print and colour, skin-coloured ones included.

Per face, the SSD sees a square crop CROP_SCALE times the detected face's longer side, centred on
it, at RUN_SIZE px. The network is fully convolutional, so it runs at RUN_SIZE instead of its
native 260 px: 0.57x the cost, and the face is still about 120 px wide, larger than most faces it
was trained on. Of its boxes, the one that is most confidently this face (confidence times its
overlap with the detected face's box) gives the score p_mask / (p_mask + p_bare).
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from ..types import Box
from .boxes import iou_many
from .detectors.base import Detection
from .errors import ModelError
from .runtime import TFLiteModel
from .spec import ModelSpec

MODEL_ID = "aizoo_mask"
RUN_SIZE = 196
CROP_SCALE = 1.6
# The SSD's anchors (AIZOO's anchor generator): per feature map, sizes at ratio 1, then ratios at the
# first size; 4 anchors per cell. Box offsets are scaled by the variances 0.1 (centre) and 0.2 (size).
ANCHOR_SIZES = ((0.04, 0.056), (0.08, 0.11), (0.16, 0.22), (0.32, 0.45), (0.64, 0.72))
ANCHOR_RATIOS = (1.0, 0.62, 0.42)
CENTRE_VARIANCE, SIZE_VARIANCE = 0.1, 0.2


def feature_map_sizes(input_px: int) -> list[int]:
    """The SSD's five feature maps for a square input (33, 17, 9, 5, 3 at its native 260 px)."""
    first = math.ceil(input_px / 8)
    sizes = [first, math.ceil(first / 2), math.ceil(first / 4), math.ceil(first / 8)]
    return sizes + [sizes[-1] - 2]          # the last map comes from an unpadded 3x3 convolution


def anchors(input_px: int) -> np.ndarray:
    """(n, 4) anchors as centre x, centre y, width, height in 0..1 crop units, in the model's output order."""
    rows = []
    for size, (first, second) in zip(feature_map_sizes(input_px), ANCHOR_SIZES, strict=True):
        centres = (np.arange(size) + 0.5) / size
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        shapes = [(s, s) for s in (first, second)]
        shapes += [(first * math.sqrt(r), first / math.sqrt(r)) for r in ANCHOR_RATIOS[1:]]
        cell = np.zeros((size, size, len(shapes), 4), np.float32)
        for k, (w, h) in enumerate(shapes):
            cell[:, :, k] = np.stack([cx, cy, np.full_like(cx, w), np.full_like(cy, h)], axis=-1)
        rows.append(cell.reshape(-1, 4))
    return np.concatenate(rows)


class SsdMaskScorer:
    """Mask score of one detected face from the AIZOO SSD. Not thread-safe (one interpreter)."""

    name = MODEL_ID

    def __init__(self, spec: ModelSpec, models_dir: Path, num_threads: int = 1) -> None:
        self.model = TFLiteModel(spec, models_dir, num_threads, run_size=(RUN_SIZE, RUN_SIZE))
        self.anchors = anchors(RUN_SIZE)
        shapes = sorted(self.model.output_shapes, key=lambda s: s[-1])
        if shapes != [[1, len(self.anchors), 2], [1, len(self.anchors), 4]]:
            raise ModelError(self.model.path, f"outputs {self.model.output_shapes}, expected boxes and two classes "
                                              f"for {len(self.anchors)} anchors (the AIZOO face-mask SSD)")
        self._boxes_output = 0 if self.model.output_shapes[0][-1] == 4 else 1     # the other output is the classes
        self.model_id = f"{spec.id}@{self.model.sha256[:12]}"

    def crop(self, image_bgr: np.ndarray, box: Box) -> np.ndarray:
        """The square crop around the face box that the SSD sees (RUN_SIZE px, black outside the image)."""
        cx, cy, side = _square(box)
        scale = RUN_SIZE / side
        warp = np.array([[scale, 0.0, RUN_SIZE / 2 - cx * scale], [0.0, scale, RUN_SIZE / 2 - cy * scale]], np.float32)
        return cv2.warpAffine(image_bgr, warp, (RUN_SIZE, RUN_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)

    def score(self, image_bgr: np.ndarray, detection: Detection) -> float:
        """0 = bare .. 1 = masked."""
        outputs = self.model.run(self.model.prepare(self.crop(image_bgr, detection.box)))
        offsets, classes = outputs[self._boxes_output][0], outputs[1 - self._boxes_output][0]
        a = self.anchors
        centre = offsets[:, :2] * CENTRE_VARIANCE * a[:, 2:] + a[:, :2]
        size = np.exp(offsets[:, 2:] * SIZE_VARIANCE) * a[:, 2:]
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        x1, y1, x2, y2 = detection.box
        cx, cy, side = _square(detection.box)
        face = np.array([(x1 - cx) / side + 0.5, (y1 - cy) / side + 0.5, (x2 - cx) / side + 0.5,
                         (y2 - cy) / side + 0.5], np.float32)      # the detected face in crop units
        best = int(np.argmax(classes.max(axis=1) * iou_many(face, boxes)))
        masked, bare = (float(p) for p in classes[best])
        return masked / (masked + bare + 1e-9)


def _square(box: Box) -> tuple[float, float, float]:
    """Centre and side of the square crop around a face box."""
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * CROP_SCALE
