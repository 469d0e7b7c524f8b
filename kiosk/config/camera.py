"""[camera]: the RGB camera."""
from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .base import Section


class CameraBackend(StrEnum):
    opencv = "opencv"  # V4L2 / USB / libcamera through OpenCV VideoCapture
    mock = "mock"      # frames rendered by the scene simulator


class CameraConfig(Section):
    backend: CameraBackend = Field(CameraBackend.opencv, description="opencv (a real camera) or mock (simulator).")
    device: str = Field("0", description="OpenCV device index or path, e.g. 0 or /dev/video0 or a GStreamer pipeline.")
    width: int = Field(640, ge=160, le=3840, description="Capture width in pixels.")
    height: int = Field(480, ge=120, le=2160, description="Capture height in pixels.")
    fps: float = Field(15.0, gt=0, le=60, description="Requested frame rate.")
    mirror: bool = Field(False, description="Flip frames horizontally (for a selfie-mounted camera).")
    horizontal_fov_deg: float = Field(62.2, gt=10, lt=180,
                                      description="Horizontal field of view; used to estimate face distance.")
