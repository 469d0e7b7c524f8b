"""Reading and checking input images."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")   # what enrollment and evaluation read from a folder


def read_image(path: Path | str) -> np.ndarray:
    """A BGR uint8 image from a file; ImageError naming the file when it cannot be read or decoded."""
    path = Path(path)
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read image: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageError(f"{path}: not a readable image (empty, truncated or unknown format)")
    return image


def as_bgr(image: object) -> np.ndarray:
    """Check a frame and bring it to HxWx3 uint8 BGR (grey and BGRA frames are converted)."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected an image array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"expected an HxWx3 BGR image, got shape {image.shape}")
    if min(image.shape[:2]) < 16:
        raise ImageError(f"image of {image.shape[1]}x{image.shape[0]} pixels is too small")
    return image
