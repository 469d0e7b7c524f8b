"""Camera-like 640x480 frames made from photos, with the face at the size a kiosk sees it.

A person 0.5-1 m from the kiosk camera shows a face about 120-250 px wide in a 640x480 frame.
Portrait photos fitted whole into such a frame leave faces 60-70 px wide, which is a person
across the room, not a walk-up. `kiosk_frame` scales the photo so that its face has a chosen
width and puts the face where a person in front of the kiosk stands (centred, a little high);
used by the walk-up benchmark and the recognizer tests.
"""
from __future__ import annotations

import cv2
import numpy as np

FRAME_W, FRAME_H = 640, 480
FACE_CENTRE = (320.0, 220.0)            # where the face of a person in front of the kiosk is


def kiosk_frame(image: np.ndarray, face_box: tuple[float, float, float, float], face_px: float,
                centre: tuple[float, float] = FACE_CENTRE) -> np.ndarray:
    """The photo scaled so `face_box` (x1, y1, x2, y2 in the photo) is `face_px` wide, its centre at
    `centre` of a 640x480 frame; whatever the photo does not cover is black."""
    x1, y1, x2, y2 = face_box
    scale = face_px / max(x2 - x1, 1.0)
    resized = cv2.resize(image, None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    # Offset of the resized photo in the frame, then the overlapping window of both.
    ox = int(round(centre[0] - (x1 + x2) / 2 * scale))
    oy = int(round(centre[1] - (y1 + y2) / 2 * scale))
    frame = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    fx0, fy0 = max(ox, 0), max(oy, 0)
    fx1, fy1 = min(ox + resized.shape[1], FRAME_W), min(oy + resized.shape[0], FRAME_H)
    if fx1 > fx0 and fy1 > fy0:
        frame[fy0:fy1, fx0:fx1] = resized[fy0 - oy:fy1 - oy, fx0 - ox:fx1 - ox]
    return frame
