"""[camera]: the RGB camera. `backend` picks the driver; each driver takes only its own keys."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, Tag

from .base import Section, by_backend


class _Camera(Section):
    """Keys every camera has: the simulator renders at this size and field of view too."""

    backend: str
    width: int = Field(640, ge=160, le=3840, description="Capture width in pixels.")
    height: int = Field(480, ge=120, le=2160, description="Capture height in pixels.")
    fps: float = Field(15.0, gt=0, le=60, description="Requested frame rate.")
    horizontal_fov_deg: float = Field(62.2, gt=10, lt=180,
                                      description="Horizontal field of view; used to estimate face distance.")


class OpenCVCameraConfig(_Camera):
    backend: Literal["opencv"] = "opencv"   # V4L2 / USB / libcamera through OpenCV VideoCapture
    device: str = Field("0", description="OpenCV device index or path, e.g. 0 or /dev/video0 or a GStreamer pipeline.")
    mirror: bool = Field(False, description="Flip frames horizontally (for a selfie-mounted camera).")


class MockCameraConfig(_Camera):
    backend: Literal["mock"] = "mock"       # frames rendered by the scene simulator


CameraConfig = Annotated[Union[Annotated[OpenCVCameraConfig, Tag("opencv")], Annotated[MockCameraConfig, Tag("mock")]],
                         by_backend("opencv")]
