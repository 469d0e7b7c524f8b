"""Captures from the kiosk's own camera and MLX90640 (I2C), for calibrating a real rig."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .captures import Capture, CaptureError


def _thermal_average(config: Any, frames: int) -> tuple[np.ndarray, float]:
    """Mean of `frames` full frames (less noise) and of their die temperatures."""
    from drivers.mlx90640.sensor import Mlx90640

    thermal = config.thermal
    if thermal.backend != "i2c":
        raise CaptureError(f"device captures need thermal.backend = i2c (configured: {thermal.backend}); "
                           f"use `calibrate simulate` for a simulated rig")
    sensor = Mlx90640(thermal.i2c_bus, thermal.i2c_address, refresh_hz=thermal.refresh_hz,
                      resolution_bits=thermal.adc_resolution, chess=thermal.mode == "chess",
                      chunk_words=thermal.i2c_chunk_words, emissivity=thermal.emissivity,
                      reflected_c=thermal.reflected_c)
    try:
        sensor.open()
        readings = [sensor.read_frame() for _ in range(frames)]
    except Exception as exc:  # the driver's errors (bus, EEPROM, timeout) end the capture with one line
        raise CaptureError(f"thermal sensor: {exc}") from None
    finally:
        sensor.close()
    return np.mean([r.temperatures for r in readings], axis=0), float(np.mean([r.ta for r in readings]))


def _camera_image(config: Any) -> np.ndarray:
    from drivers.camera.base import CameraError
    from drivers.camera.opencv import OpenCVCamera

    if config.camera.backend != "opencv":
        raise CaptureError(f"device captures need camera.backend = opencv (configured: {config.camera.backend})")
    camera = OpenCVCamera(config.camera.device, config.camera.width, config.camera.height, config.camera.fps,
                          config.camera.mirror)
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

        faces = FacePipeline(config.face, config.models_dir).process(image)
        if not faces:
            raise CaptureError("no face in the camera image: the reference person must face the kiosk")
        face = max(faces, key=lambda f: f.width)
        fields = {**fields, "frame_size": [image.shape[1], image.shape[0]],
                  "face": {"box": [float(v) for v in face.box], "keypoints": np.asarray(face.keypoints).tolist()}}
        image = None   # the face is kept as its box and keypoints only, never as a picture
    return Capture(kind, temperatures, ta, fields, image if kind == "registration" else None)
