"""Captures from the kiosk's own camera and MLX90640 (I2C or UART module), for calibrating a real rig."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .captures import Capture, CaptureError


def _thermal_sensor(config: Any):
    thermal = config.thermal
    if thermal.backend not in ("i2c", "uart"):
        raise CaptureError(f"device captures need thermal.backend = i2c or uart (configured: {thermal.backend}); "
                           f"use `calibrate simulate` for a simulated rig")
    from kiosk.hardware import build_thermal

    return build_thermal(config, None)


def _thermal_average(config: Any, frames: int) -> tuple[np.ndarray, float]:
    """Mean of `frames` full frames (less noise) and of their die temperatures."""
    from drivers.thermal.base import ThermalError

    sensor = _thermal_sensor(config)
    try:
        with sensor:
            readings = [sensor.read() for _ in range(frames)]
    except ThermalError as exc:
        raise CaptureError(f"thermal sensor: {exc}") from None
    return np.mean([r.temperatures for r in readings], axis=0), float(np.mean([r.ambient_c for r in readings]))


def _camera_image(config: Any) -> np.ndarray:
    from drivers.camera.base import CameraError
    from kiosk.hardware import build_camera

    if config.camera.backend != "opencv":
        raise CaptureError(f"device captures need camera.backend = opencv (configured: {config.camera.backend})")
    camera = build_camera(config, None)
    try:
        with camera:
            for _ in range(3):      # let exposure settle
                camera.read()
            return camera.read().image
    except CameraError as exc:
        raise CaptureError(f"camera: {exc}") from None


def capture(config: Any, kind: str, frames: int, fields: dict[str, Any]) -> Capture:
    """One capture of `kind` from the configured devices, with the operator's reference values in `fields`."""
    image: Optional[np.ndarray] = None
    if kind in ("registration", "distance"):
        image = _camera_image(config)
    temperatures, ta = _thermal_average(config, frames)
    if kind == "distance":
        from kiosk.face.pipeline import FacePipeline

        assert image is not None   # taken above for every distance capture
        faces = FacePipeline(config.face, config.models_dir).process(image)
        if not faces:
            raise CaptureError("no face in the camera image: the reference person must face the kiosk")
        face = max(faces, key=lambda f: f.width)
        fields = {**fields, "frame_size": [image.shape[1], image.shape[0]],
                  "face": {"box": [float(v) for v in face.box], "keypoints": np.asarray(face.keypoints).tolist()}}
        image = None   # the face is kept as its box and keypoints only, never as a picture
    return Capture(kind, temperatures, ta, fields, image if kind == "registration" else None)
