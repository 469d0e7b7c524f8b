"""Calibration captures on disk: one JSON file per capture, plus a PNG for camera images.

    DIR/0001-registration.json   {"kind": "registration", "thermal": rows x cols, "ta_c": .., "distance_m": ..,
                                  "camera_image": "0001-registration.png", "room_c": ..|null}
    DIR/0002-distance.json       {"kind": "distance", "thermal": .., "ta_c": .., "frame_size": [w, h],
                                  "face": {"box": [x1, y1, x2, y2], "keypoints": [[x, y] x6]},
                                  "canthus_c": .., "forehead_c": .., "room_c": ..|null}
    DIR/0003-blackbody.json      {"kind": "blackbody", "thermal": .., "ta_c": .., "set_point_c": ..}
    DIR/0004-ambient.json        {"kind": "ambient", "thermal": .., "ta_c": .., "room_c": ..}

Every capture may carry "room_c" (a reference thermometer's reading); the ambient fit uses all that do.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import KINDS


class CaptureError(Exception):
    """A capture file that cannot be used, as one line."""


@dataclass
class Capture:
    kind: str
    thermal: np.ndarray                    # (rows, cols) C, the sensor's frame
    ta_c: float
    fields: dict[str, Any] = field(default_factory=dict)
    camera_image: Optional[np.ndarray] = None   # BGR, registration captures
    path: Optional[Path] = None

    def number(self, key: str) -> float:
        try:
            return float(self.fields[key])
        except (KeyError, TypeError, ValueError):
            raise CaptureError(f"{self.path}: field '{key}' is missing or not a number") from None


def next_index(directory: Path) -> int:
    numbers = [int(p.name.split("-", 1)[0]) for p in directory.glob("[0-9][0-9][0-9][0-9]-*.json")]
    return max(numbers, default=0) + 1


def save(directory: Path, capture: Capture) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{next_index(directory):04d}-{capture.kind}"
    document = {"kind": capture.kind, "thermal": np.round(capture.thermal, 3).tolist(), "ta_c": capture.ta_c,
                **capture.fields}
    if capture.camera_image is not None:
        import cv2

        image_name = f"{stem}.png"
        if not cv2.imwrite(str(directory / image_name), capture.camera_image):
            raise CaptureError(f"{directory / image_name}: cannot write the camera image")
        document["camera_image"] = image_name
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(document) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> Capture:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CaptureError(f"{path}: cannot read the capture: {exc}") from None
    kind = document.pop("kind", None)
    if kind not in KINDS:
        raise CaptureError(f"{path}: kind {kind!r} is not one of {', '.join(KINDS)}")
    thermal = np.asarray(document.pop("thermal", None), dtype=float)
    if thermal.ndim != 2 or thermal.size == 0 or not np.all(np.isfinite(thermal)):
        raise CaptureError(f"{path}: 'thermal' must be rows of finite temperatures, one per sensor pixel")
    ta = document.pop("ta_c", None)
    if not isinstance(ta, (int, float)):
        raise CaptureError(f"{path}: 'ta_c' (sensor die temperature) is missing")
    image = None
    image_name = document.pop("camera_image", None)
    if image_name:
        import cv2

        image = cv2.imread(str(path.parent / image_name))
        if image is None:
            raise CaptureError(f"{path}: camera image {image_name} is missing or unreadable")
    return Capture(kind, thermal, float(ta), document, image, path)


def load_all(directory: Path) -> list[Capture]:
    if not directory.is_dir():
        raise CaptureError(f"{directory}: no such capture directory")
    captures = [load(path) for path in sorted(directory.glob("[0-9][0-9][0-9][0-9]-*.json"))]
    if not captures:
        raise CaptureError(f"{directory}: no captures (NNNN-<kind>.json files) found")
    return captures
