"""Shared constants and helpers of the thermal tests."""
from __future__ import annotations

import numpy as np

from kiosk.thermal.geometry import Mount
from kiosk.types import FaceObservation

# The sensor as really mounted: a little off the nominal 30 mm side-by-side position, slightly turned.
TRUE_MOUNT = Mount((0.036, 0.007, 0.002), (1.5, -1.0, 0.6))
ROOM_C = 22.0


def observe(face) -> FaceObservation:
    """What the face detector would report for a projected simulated face."""
    return FaceObservation(face.box, 0.99, np.asarray(face.keypoints, dtype=float))
