"""Real cameras through OpenCV's VideoCapture (V4L2 on Linux: USB webcams, the Pi camera via libcamera's V4L2 layer)."""
from __future__ import annotations

import threading
import time

import cv2

from ..health import DeviceHealth, HealthState
from .base import Camera, CameraError, Frame


class OpenCVCamera(Camera):
    def __init__(self, device: str | int = 0, width: int = 640, height: int = 480, fps: float = 15.0,
                 mirror: bool = False) -> None:
        self._device = int(device) if isinstance(device, str) and device.isdigit() else device
        self._width, self._height, self._fps, self._mirror = width, height, fps, mirror
        self._capture: cv2.VideoCapture | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self.health = DeviceHealth(HealthState.failed, "not opened")

    def open(self) -> None:
        capture = cv2.VideoCapture(self._device, cv2.CAP_V4L2) if isinstance(self._device, int) \
            else cv2.VideoCapture(self._device)
        if not capture.isOpened():
            self.health = DeviceHealth(HealthState.failed, f"cannot open camera {self._device!r}")
            raise CameraError(f"cannot open camera {self._device!r} (is it connected, and is the user in group 'video'?)")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self._width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self._height)
        capture.set(cv2.CAP_PROP_FPS, self._fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep latency low: we want the newest frame, not a backlog
        self._capture = capture
        self.health = DeviceHealth(HealthState.ok, f"camera {self._device!r}")

    def read(self, timeout: float = 1.0) -> Frame:
        with self._lock:
            if self._capture is None:
                raise CameraError("camera is not open")
            started = time.monotonic()
            ok, image = self._capture.read()
            if not ok or image is None:
                self.health = DeviceHealth(HealthState.degraded, "read failed")
                if time.monotonic() - started > timeout:
                    raise CameraError(f"no frame from camera {self._device!r} within {timeout:.1f} s")
                raise CameraError(f"camera {self._device!r} returned no frame")
            if self._mirror:
                image = cv2.flip(image, 1)
            self._seq += 1
            self.health = DeviceHealth(HealthState.ok, f"camera {self._device!r}")
            return Frame(image=image, timestamp=time.monotonic(), seq=self._seq)

    def close(self) -> None:
        with self._lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
