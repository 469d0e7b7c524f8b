"""Finding the one face of an enrollment photo.

A phone photo is large and its face may be small in it: letterboxed into the detector's 128x128
input, a face a tenth of the width is a dozen pixels, too small for BlazeFace short range. So the
photo is searched as a whole and in overlapping square windows (the shorter side divided by 1, 2,
3, 4, never smaller than MIN_WINDOW_PX); only then is "no face found" said, with a hint to crop.
All scales are searched even when the whole picture shows a face: two people side by side are each
a tenth of the width too, and the whole picture may show only one of them. A 12 MP photo takes
about 1.5 s on a 2-core x86 machine (enrollment only; walk-ups use the whole frame).

One person per photo: a second face at least BACKGROUND_FACE_RATIO of the largest face's width is
refused (the photo could be enrolled under the wrong person's name). A smaller one is a face far in
the background, which cannot be the person being enrolled at arm's length, and is ignored; it is
also too small to be mistaken for the main face, which is the one enrolled.
"""
from __future__ import annotations

import cv2
import numpy as np

from .crops import Detects
from .detectors.base import Detection, box_of, largest_first
from .errors import FaceError

NO_FACE = "no face found"
BACKGROUND_FACE_RATIO = 1 / 3   # second faces narrower than this share of the largest are background faces
MIN_WINDOW_PX = 256             # smaller windows add nothing: faces below face.min_face_px are refused anyway
WINDOW_PX = 256                 # windows are resized to this before detection (2x BlazeFace's input)
WINDOW_MIN_SCORE = 0.8          # magnified, dark cloth passes for a face at 0.6-0.7; real faces score 0.9+
MAX_SPLIT = 4                   # windows down to a quarter of the shorter side (a face ~10% of the width)
SAME_FACE_OVERLAP = 0.5         # detections sharing this much of the smaller box are one face (a window may
                                # cut a face, so its part and the whole face are merged)


def faces_in_photo(detector: Detects, image: np.ndarray) -> list[Detection]:
    """Every face the detector finds in the photo as a whole or in any window, in the photo's pixels, largest
    first (a face seen in several windows counts once)."""
    found = list(detector.detect(image))
    short = min(image.shape[:2])
    for split in range(1, MAX_SPLIT + 1):
        window = short // split
        if window < MIN_WINDOW_PX:
            break
        scale = WINDOW_PX / window            # each window is searched at WINDOW_PX: one resize per scale
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for x, y in _windows(small.shape[:2], WINDOW_PX):
            found += _to_photo([d for d in detector.detect(small[y:y + WINDOW_PX, x:x + WINDOW_PX])
                                if d.score >= WINDOW_MIN_SCORE], x, y, scale)
    return _merge(found)


def the_one_face(detector: Detects, image: np.ndarray) -> Detection:
    """The face to enroll; FaceError when there is none (with a hint to crop) or two people are in the photo."""
    faces = faces_in_photo(detector, image)
    if not faces:
        h, w = image.shape[:2]
        raise FaceError(f"{NO_FACE} in the {w}x{h} image; if the face is small in it, crop the photo to head and "
                        "shoulders")
    main = faces[0]
    others = [d for d in faces[1:] if d.width >= BACKGROUND_FACE_RATIO * main.width]
    if others:
        raise FaceError(f"{len(others) + 1} faces in the photo (the second is {others[0].width / main.width:.0%} "
                        "as wide as the first); enroll a photo of this person alone")
    return main


def _windows(shape: tuple[int, ...], window: int) -> list[tuple[int, int]]:
    """Top-left corners of square windows covering the image, overlapping by half a window."""
    h, w = shape[:2]
    step = max(1, window // 2)
    xs = sorted({*range(0, max(1, w - window + 1), step), max(0, w - window)})
    ys = sorted({*range(0, max(1, h - window + 1), step), max(0, h - window)})
    return [(x, y) for y in ys for x in xs]


def _to_photo(detections: list[Detection], x: int, y: int, scale: float) -> list[Detection]:
    """Detections in a window at (x, y) of the photo resized by `scale` -> photo pixels."""
    offset = np.array([x, y], np.float32)
    return [Detection(box_of((np.asarray(d.box).reshape(2, 2) + offset).ravel() / scale),
                      d.score, ((d.keypoints + offset) / scale).astype(np.float32), d.layout) for d in detections]


def _merge(detections: list[Detection]) -> list[Detection]:
    """One detection per face (the best scored of those overlapping), largest first."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: -d.score):
        if all(_overlap(d.box, k.box) <= SAME_FACE_OVERLAP for k in kept):
            kept.append(d)
    return largest_first(kept)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return inter / smaller if smaller > 0 else 0.0
