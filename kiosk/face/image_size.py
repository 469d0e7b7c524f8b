"""Image dimensions from the file header, before anything is decoded.

A 1.2 MB PNG can decode to 20000x20000 pixels (1.2 GB as BGR, more while decoding); OpenCV can
only tell after decoding. Pillow reads the width and height from the header without decoding
the pixels. Pillow refuses on its own (DecompressionBombError) beyond PILLOW_LIMIT pixels, which
is why `face.max_image_pixels` may not be set above it.
"""
from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from .errors import ImageError

assert Image.MAX_IMAGE_PIXELS is not None    # None only where a program switched Pillow's check off
PILLOW_LIMIT = 2 * Image.MAX_IMAGE_PIXELS   # Pillow's own refusal (it warns from half of it)


def check_pixels(data: bytes, max_pixels: int) -> None:
    """ImageError giving the size when the encoded image's header says more than `max_pixels`, or when the header
    cannot be read (not an image, or a format Pillow does not know). The caller names the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise ImageError(f"image of more than {PILLOW_LIMIT / 1e6:.0f} MP, over the cap of "
                         f"{max_pixels / 1e6:g} MP (face.max_image_pixels); not decoded") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageError("not a readable image (empty, truncated or unknown format)") from None
    if width * height > max_pixels:
        raise ImageError(f"image of {width}x{height} pixels ({width * height / 1e6:.1f} MP), over the cap "
                         f"of {max_pixels / 1e6:g} MP (face.max_image_pixels); not decoded, make it smaller")
