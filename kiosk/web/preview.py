"""The camera preview on the kiosk screen: downscaled JPEG frames with the face boxes, as MJPEG.

Camera frames come at the camera's rate (`offer_frame`), the faces of the recognition stage at its
own (`offer_faces`): a slow pipeline does not make the preview jerky, and a box is drawn on the
frames that follow its own by at most MAX_BOX_AGE_S. Both are O(1) (references, no copies) and
kept only while a page watches; a frame is encoded once however many pages watch, in an executor,
at most `fps` times a second per page.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor
from typing import Optional

import cv2
import numpy as np

from drivers.camera.base import Frame

from ..recognition.observations import FaceSample
from ..types import Box
from .screen import TooManyClients

JPEG_QUALITY = 70
MAX_BOX_AGE_S = 2.0       # a face box found on a frame this much older than the frame shown is not drawn
BOX_BGR = (80, 220, 80)


def encode(image: np.ndarray, boxes: Sequence[Box], width: int) -> bytes:
    """A JPEG of `image` (BGR) scaled down to `width` (never up) with `boxes` (frame pixels) drawn."""
    height, original = image.shape[:2]
    scale = min(1.0, width / original)
    small = image if scale == 1.0 else cv2.resize(image, (round(original * scale), round(height * scale)),
                                                  interpolation=cv2.INTER_AREA)
    if boxes:
        small = small.copy() if small is image else small
        thickness = max(1, round(small.shape[1] / 160))
        for x1, y1, x2, y2 in boxes:
            cv2.rectangle(small, (round(x1 * scale), round(y1 * scale)), (round(x2 * scale), round(y2 * scale)),
                          BOX_BGR, thickness)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


class PreviewHub:
    def __init__(self, fps: float, width: int, executor: Executor, max_clients: int = 4) -> None:
        self.interval = 1.0 / fps
        self.width = width
        self.executor = executor
        self.max_clients = max_clients
        self.clients = 0
        self._latest: Optional[Frame] = None
        self._faces: tuple[float, list[FaceSample]] = (-float("inf"), [])   # (capture time, faces) of the newest result
        self._fresh = asyncio.Event()
        self._encoded: tuple[int, bytes] = (-1, b"")     # (frame seq, JPEG) of the last frame encoded
        self._encoding = asyncio.Lock()
        self._closed = False

    def offer_frame(self, frame: Frame) -> None:
        """The newest camera frame (loop thread, every frame): kept only while a page watches."""
        if not self.clients:
            return
        self._latest = frame
        fresh, self._fresh = self._fresh, asyncio.Event()
        fresh.set()

    def offer_faces(self, timestamp: float, samples: list[FaceSample]) -> None:
        """The faces found on the frame captured at `timestamp` (loop thread, every recognised frame)."""
        if self.clients:
            self._faces = (timestamp, samples)

    def close(self) -> None:
        """End every page's stream."""
        self._closed = True
        self._fresh.set()

    def frames(self) -> AsyncIterator[bytes]:
        """JPEGs of new frames, at most one per interval; TooManyClients at once when max_clients watch."""
        if self.clients >= self.max_clients:
            raise TooManyClients(f"at most {self.max_clients} camera previews at once")
        return self._follow()

    async def _follow(self) -> AsyncIterator[bytes]:
        self.clients += 1
        sent = -1
        try:
            while not self._closed:
                if self._latest is None or self._latest.seq == sent:
                    await self._fresh.wait()
                    continue
                started = time.monotonic()
                sent, jpeg = await self._jpeg()
                yield jpeg
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            self.clients -= 1
            if not self.clients:   # no page: hold on to no frame
                self._latest, self._faces, self._encoded = None, (-float("inf"), []), (-1, b"")

    async def _jpeg(self) -> tuple[int, bytes]:
        async with self._encoding:
            frame = self._latest
            assert frame is not None
            if self._encoded[0] != frame.seq:
                found_at, samples = self._faces
                recent = abs(frame.timestamp - found_at) <= MAX_BOX_AGE_S
                boxes = [sample.face.box for sample in samples] if recent else []
                jpeg = await asyncio.get_running_loop().run_in_executor(self.executor, encode, frame.image, boxes,
                                                                        self.width)
                self._encoded = (frame.seq, jpeg)
            return self._encoded
