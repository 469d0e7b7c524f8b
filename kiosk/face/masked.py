"""Recognising masked faces: masked templates and the upper-face embedding.

Two ways, both working on the aligned chip of the embedding model (whose five template points
say where the eyes, nose and mouth are):

- **Masked templates**: the enrollment chip with a synthetic mask drawn on it (one per style in
  `kiosk.face.synthetic_mask.MASK_STYLES`), embedded by the same model. They live in the same
  vector space as the bare templates, so a masked walk-up is compared with them like with any
  template; the person scores by the best one.
- **Upper-face embedding**: the chip with everything below a line halfway between the eye line
  and the nose tip replaced by neutral grey, for the enrolled face and the walk-up alike, so that
  a mask, or its absence, does not enter the vector. It is a vector space of its own
  (`upper_space_id(model_id)`) and is only compared with its own kind, when a face is masked.

The cut (half-way) and the grey fill were chosen on LFW dev with synthetic masks drawn on one
image of every pair (README, "Masked faces"), not on the masked test set.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .synthetic_mask import MASK_STYLES, MaskStyle, draw_mask

# Where the neutral fill starts: this fraction of the way from the eye line down to the nose tip.
UPPER_CUT = 0.5
# Mid-grey: close to the input normalisation's zero for the models we run (mean ~ 127.5 or ~ 116-124).
UPPER_FILL = 128
UPPER_SUFFIX = "+upper"


def upper_space_id(model_id: str) -> str:
    """The id under which upper-face vectors of `model_id` are stored, so they never meet whole-face vectors."""
    return f"{model_id}{UPPER_SUFFIX}"


def upper_face(chip_bgr: np.ndarray, template: np.ndarray) -> np.ndarray:
    """A copy of an aligned chip with the lower face (below the cut line) filled with neutral grey."""
    points = np.asarray(template, np.float32)
    eye_y = float(points[:2, 1].mean())
    cut = int(round(eye_y + UPPER_CUT * (float(points[2, 1]) - eye_y)))
    out = chip_bgr.copy()
    out[max(cut, 0):] = UPPER_FILL
    return out


def masked_chips(chip_bgr: np.ndarray, template: np.ndarray,
                 styles: Sequence[MaskStyle] = MASK_STYLES) -> list[np.ndarray]:
    """The aligned chip with one synthetic mask per style, drawn from the template's keypoints."""
    return [draw_mask(chip_bgr, np.asarray(template, np.float32), style) for style in styles]
