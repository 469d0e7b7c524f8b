"""A burst of live camera frames for enrollment in the running daemon (no stop, no second camera reader).

The web server already sees every camera frame (`WebServer.offer_frame`, for the preview). When the
console arms a burst, frames at least `spacing_s` apart are kept until `count` are in or the time is
up; then the same quality gate as `kiosk enroll --camera` (Enroller.enroll_camera: one face, pose,
size, sharpness) picks the shots on the inference thread. One burst at a time. While none is armed a
frame costs one attribute check.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Optional

from drivers.camera.base import Camera, CameraError, Frame

COUNT = 12            # frames offered to the quality gate
SPACING_S = 0.25      # so that they differ
TIMEOUT_S = 8.0       # the person stands in front this long at most
SHOTS = 3             # shots kept (as `kiosk enroll --camera --shots 3`)


class BurstBusy(Exception):
    """Another enrollment is taking its burst."""


class FrameBurst:
    def __init__(self, count: int = COUNT, spacing_s: float = SPACING_S, timeout_s: float = TIMEOUT_S) -> None:
        self.count = count
        self.spacing_s = spacing_s
        self.timeout_s = timeout_s
        self._armed = False
        self._frames: list[Frame] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._full: Optional[asyncio.Event] = None

    @property
    def busy(self) -> bool:
        return self._armed

    def offer(self, frame: Frame) -> None:
        """Each camera frame (any thread)."""
        if self._armed and self._loop is not None:
            self._loop.call_soon_threadsafe(self._keep, frame)

    def _keep(self, frame: Frame) -> None:
        if not self._armed or len(self._frames) >= self.count:
            return
        if self._frames and frame.timestamp - self._frames[-1].timestamp < self.spacing_s:
            return
        self._frames.append(frame)
        if len(self._frames) >= self.count and self._full is not None:
            self._full.set()

    async def take(self) -> list[Frame]:
        """Up to `count` frames within `timeout_s` (fewer when the camera is slow or stalled)."""
        if self._armed:
            raise BurstBusy("another enrollment is using the camera: try again in a few seconds")
        self._loop, self._full = asyncio.get_running_loop(), asyncio.Event()
        self._frames, self._armed = [], True
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.timeout_s)
            return list(self._frames)
        finally:
            self._armed = False
            self._frames = []


class BurstCamera(Camera):
    """The frames of a burst as a Camera for Enroller.enroll_camera; CameraError once they are used up."""

    def __init__(self, frames: list[Frame]) -> None:
        self._frames = list(frames)

    def open(self) -> None:
        pass

    def read(self, timeout: float = 1.0) -> Frame:
        if not self._frames:
            raise CameraError("burst used up")
        return self._frames.pop(0)

    def close(self) -> None:
        pass
