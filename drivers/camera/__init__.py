"""RGB cameras: OpenCV (V4L2/USB/libcamera) and a mock fed by the scene simulator."""
from .base import Camera, CameraError, Frame

__all__ = ["Camera", "CameraError", "Frame"]
