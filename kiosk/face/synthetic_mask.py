"""Synthetic face masks drawn from a face's keypoints (masked enrollment templates, mask-classifier training).

The mask is designed once in a canonical face frame (the ArcFace 112 px template: eyes at y ~52,
nose tip at y ~72, mouth corners at y ~92), rendered there at a few times the face's size with
its shading and texture, and warped onto the image by the affine transform that takes the
template's keypoints onto the face's. An affine (not only a similarity) fit follows a turned or
tilted head, and the supersampled rendering plus the warp's interpolation give soft,
anti-aliased edges on a full frame and on an aligned chip alike.

Keypoints: five points (eye on the image-left, eye on the image-right, nose tip, mouth corner on
the image-left, mouth corner on the image-right; KeypointLayout.five_point) or BlazeFace's six
(the same eyes and nose, then the mouth centre and the two ear tragions; the ears are not used).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Canonical face frame: the five-point template of ArcFace-style 112 px chips.
TEMPLATE = np.array([[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]],
                    np.float32)
MIDLINE_X = 56.0
# Canvas in template units: x -24..136, y 28..148 (the face and its surroundings).
CANVAS_ORIGIN = np.array([-24.0, 28.0], np.float32)
CANVAS_SIZE = (160, 120)
SHAPES = ("surgical", "cloth", "n95")
PATTERNS = ("plain", "pleats", "dots", "stripes")
# Ear loops: strings from the mask's corners towards the ears, as segments in template coordinates.
EAR_LOOPS = (((15, 66), (0, 58)), ((16, 96), (0, 72)), ((97, 66), (112, 58)), ((96, 96), (112, 72)))


@dataclass(frozen=True)
class MaskStyle:
    """How a synthetic mask looks: outline, colour (BGR), surface pattern and side shading (0..1)."""

    name: str
    shape: str                                   # one of SHAPES
    colour: tuple[int, int, int]                 # BGR
    pattern: str = "plain"                       # one of PATTERNS
    pattern_colour: tuple[int, int, int] = (255, 255, 255)
    shade: float = 0.25                          # how much darker the sides are than the centre
    ear_loops: bool = False

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"mask style {self.name!r}: shape {self.shape!r} is not one of {', '.join(SHAPES)}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"mask style {self.name!r}: pattern {self.pattern!r} is not one of {', '.join(PATTERNS)}")


MASK_STYLES: tuple[MaskStyle, ...] = (
    MaskStyle("surgical_blue", "surgical", (222, 196, 150), "pleats", ear_loops=True),
    MaskStyle("surgical_white", "surgical", (236, 238, 240), "pleats", ear_loops=True),
    MaskStyle("cloth_black", "cloth", (38, 36, 36), shade=0.15),
    MaskStyle("cloth_grey", "cloth", (140, 138, 134)),
    MaskStyle("n95_white", "n95", (228, 232, 234), shade=0.3),
    MaskStyle("cloth_dots", "cloth", (120, 60, 30), "dots", (220, 220, 230)),
    MaskStyle("cloth_stripes", "cloth", (60, 60, 160), "stripes", (40, 40, 90)),
)


def _outline(shape: str) -> np.ndarray:
    """The mask outline as a closed polygon in template coordinates (clockwise from the nose bridge)."""
    if shape == "n95":
        # A cup: pointed at the nose bridge and under the chin, widest over the cheeks.
        control = [(56, 57), (74, 60), (92, 66), (100, 80), (95, 100), (79, 115), (56, 124),
                   (33, 115), (17, 100), (12, 80), (20, 66), (38, 60)]
    elif shape == "cloth":
        # Rounded over the nose, wrapping the jaw and chin.
        control = [(56, 58), (72, 60), (90, 64), (99, 72), (99, 90), (92, 105), (77, 117), (56, 122),
                   (35, 117), (20, 105), (13, 90), (13, 72), (22, 64), (40, 60)]
    else:
        # Surgical: a straight-ish top edge with a small peak at the nose wire, pleated, square sides.
        control = [(56, 58), (74, 60), (96, 64), (100, 80), (97, 100), (84, 113), (56, 120),
                   (28, 113), (15, 100), (12, 80), (16, 64), (38, 60)]
    return _smooth_closed(np.array(control, np.float32))


def _smooth_closed(points: np.ndarray, per_segment: int = 8) -> np.ndarray:
    """A closed Catmull-Rom curve through the points (a smooth outline from a few control points)."""
    n = len(points)
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(n):
        p0, p1, p2, p3 = points[i - 1], points[i], points[(i + 1) % n], points[(i + 2) % n]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    return np.concatenate(out).astype(np.float32)


def _source_and_target(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(template points, image points) to fit; ValueError for anything but 5 or 6 finite (x, y) points."""
    pts = np.asarray(points, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] not in (5, 6):
        raise ValueError(f"keypoints of shape {pts.shape}: expected (5, 2) five-point or (6, 2) BlazeFace points")
    if not np.all(np.isfinite(pts)):
        raise ValueError("keypoints hold NaN or infinite values")
    if pts.shape[0] == 6:   # BlazeFace: eyes, nose tip, mouth centre (ears unused)
        return np.vstack([TEMPLATE[:3], TEMPLATE[3:5].mean(axis=0)]).astype(np.float64), pts[:4]
    return TEMPLATE.astype(np.float64), pts


def template_to_image(points: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares affine map from the template frame to the image; ValueError when degenerate."""
    source, target = _source_and_target(points)
    eye_gap = float(np.linalg.norm(target[1] - target[0]))
    if eye_gap < 2.0:
        raise ValueError(f"eyes {eye_gap:.1f} px apart: keypoints are degenerate")
    design = np.hstack([source, np.ones((len(source), 1))])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    matrix = solution.T                                           # 2x3
    linear = matrix[:, :2]
    det = float(np.linalg.det(linear))
    scale = eye_gap / float(np.linalg.norm(TEMPLATE[1] - TEMPLATE[0]))
    # A mirrored or collapsed fit (mouth above the eyes, points on a line) is no face.
    if det <= 0.05 * scale ** 2:
        raise ValueError("keypoints are degenerate or mirrored (mouth not below the eyes)")
    # Turned heads fit an affine map loosely; a point far off any face does not fit at all.
    residual = float(np.abs(design @ solution - target).max())
    if residual > max(0.5 * eye_gap, 12.0 * np.sqrt(det)):
        raise ValueError(f"keypoints do not look like a face (fit residual {residual:.1f} px)")
    return matrix.astype(np.float32)


def _render(style: MaskStyle, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The mask on the canvas at `scale` canvas pixels per template unit: (colour float32 HxWx3, alpha HxW)."""
    width, height = int(CANVAS_SIZE[0] * scale), int(CANVAS_SIZE[1] * scale)
    outline = (_outline(style.shape) - CANVAS_ORIGIN) * scale
    alpha: np.ndarray = np.zeros((height, width), np.uint8)   # uint8 to draw, float32 after
    cv2.fillPoly(alpha, [np.round(outline * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)

    # Shading: the mask bulges over the nose and turns away at the sides and under the chin.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) / scale + CANVAS_ORIGIN[::-1, None, None]
    side = ((xs - MIDLINE_X) / 42.0) ** 2
    below = np.clip((ys - 100.0) / 22.0, 0.0, 1.0) ** 2
    light = 1.04 - style.shade * side - 0.12 * below
    colour = np.empty((height, width, 3), np.float32)
    colour[:] = np.asarray(style.colour, np.float32)
    colour *= light[..., None]
    _texture(colour, style, scale, xs, ys)
    alpha = alpha.astype(np.float32) / 255.0
    if style.ear_loops:
        thickness = max(1, int(round(0.5 * scale)))
        for segment in EAR_LOOPS:
            a, b = (tuple(int(v) for v in p) for p in np.round((np.array(segment) - CANVAS_ORIGIN) * scale * 16))
            cv2.line(colour, a, b, (230, 230, 230), thickness, cv2.LINE_AA, shift=4)
            cv2.line(alpha, a, b, 0.8, thickness, cv2.LINE_AA, shift=4)
    return np.clip(colour, 0, 255), alpha


def _texture(colour: np.ndarray, style: MaskStyle, scale: float, xs: np.ndarray, ys: np.ndarray) -> None:
    """Pleats, a centre seam or a fold, and printed patterns, drawn in place on the canvas colour."""
    def canvas(points: list[tuple[float, float]]) -> np.ndarray:
        return np.round((np.array(points, np.float32) - CANVAS_ORIGIN) * scale * 16).astype(np.int32)

    lines: np.ndarray = np.zeros(colour.shape[:2], np.float32)
    thickness = max(1, int(round(0.6 * scale)))
    if style.pattern == "pleats":
        for y in (78.0, 90.0, 102.0):
            curve = [(x, y + 1.5 * ((x - MIDLINE_X) / 40.0) ** 2) for x in np.linspace(14, 98, 15)]
            cv2.polylines(lines, [canvas(curve)], False, 1.0, thickness, cv2.LINE_AA, shift=4)
    elif style.shape == "cloth":
        seam = [(MIDLINE_X, y) for y in np.linspace(58, 122, 9)]
        cv2.polylines(lines, [canvas(seam)], False, 0.7, thickness, cv2.LINE_AA, shift=4)
    elif style.shape == "n95":
        fold = [(x, 86.0 + 4.0 * ((x - MIDLINE_X) / 40.0) ** 2) for x in np.linspace(14, 98, 15)]
        cv2.polylines(lines, [canvas(fold)], False, 0.8, thickness, cv2.LINE_AA, shift=4)
    if lines.any():
        lines = cv2.GaussianBlur(lines, (0, 0), 0.5 * scale)
        colour *= (1.0 - 0.22 * np.clip(lines, 0, 1))[..., None]

    if style.pattern in ("dots", "stripes"):
        if style.pattern == "dots":
            gx = (xs - MIDLINE_X) / 7.0
            gy = (ys - 60.0) / 7.0 + 0.5 * (np.floor(gx) % 2)
            d = np.hypot(gx - np.round(gx), gy - np.round(gy))
            ink = np.clip((0.22 - d) * 6.0 * scale, 0.0, 1.0)
        else:
            phase = (ys - 0.35 * xs) / 8.0
            ink = np.clip((np.abs(phase - np.round(phase)) - 0.3) * -4.0 * scale, 0.0, 1.0)
        colour[:] = colour * (1 - ink[..., None]) + np.asarray(style.pattern_colour, np.float32) * ink[..., None]


def draw_mask(image_bgr: np.ndarray, points: np.ndarray, style: MaskStyle) -> np.ndarray:
    """A copy of the image with a mask of `style` over the face whose keypoints are `points` (pixels).

    The mask covers the nose below the eyes, the mouth and the chin. Its colour is dimmed with the
    light on the face (the mean brightness around the eyes), so a white mask is not the brightest
    thing in a dark photo. Deterministic. ValueError for keypoints that are not a face.
    """
    if not isinstance(image_bgr, np.ndarray) or image_bgr.dtype != np.uint8 or image_bgr.ndim != 3 \
            or image_bgr.shape[2] != 3:
        raise ValueError("draw_mask needs an HxWx3 uint8 BGR image")
    matrix = template_to_image(points)
    face_scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))     # image pixels per template unit
    scale = float(np.clip(2.0 * face_scale, 2.0, 8.0))                # canvas supersampling
    colour, alpha = _render(style, scale)

    # canvas pixel -> template -> image
    to_template = np.array([[1 / scale, 0, CANVAS_ORIGIN[0]], [0, 1 / scale, CANVAS_ORIGIN[1]], [0, 0, 1]],
                           np.float64)
    full = np.vstack([matrix.astype(np.float64), [0, 0, 1]]) @ to_template
    height, width = image_bgr.shape[:2]
    corners = np.array([[0, 0, 1], [alpha.shape[1], 0, 1], [0, alpha.shape[0], 1],
                        [alpha.shape[1], alpha.shape[0], 1]], np.float64) @ full[:2].T
    x1, y1 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x2, y2 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, [width, height])
    out = image_bgr.copy()
    if x2 <= x1 or y2 <= y1:
        return out
    roi = full[:2].copy()
    roi[:, 2] -= (x1, y1)
    size = (int(x2 - x1), int(y2 - y1))
    # Blur before shrinking so textures do not alias (the canvas is up to 2x the face's resolution).
    sigma = max(0.0, 0.5 * scale / max(face_scale, 1e-6) - 0.5)
    if sigma > 0.3:
        colour = cv2.GaussianBlur(colour, (0, 0), sigma)
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)
    warped_colour: np.ndarray = cv2.warpAffine(colour, roi, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    warped_alpha = cv2.warpAffine(alpha, roi, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    patch = out[y1:y2, x1:x2].astype(np.float32)
    warped_colour *= _light(image_bgr, matrix)
    a = warped_alpha[..., None]
    out[y1:y2, x1:x2] = np.clip(patch * (1 - a) + warped_colour * a + 0.5, 0, 255).astype(np.uint8)
    return out


def _light(image_bgr: np.ndarray, matrix: np.ndarray) -> float:
    """How bright the face is lit (0.55..1.1), from the grey level of the eyes-and-forehead band."""
    corners = np.array([[30, 36, 1], [82, 36, 1], [30, 58, 1], [82, 58, 1]], np.float32) @ matrix.T
    x1, y1 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x2, y2 = np.minimum(np.ceil(corners.max(axis=0)).astype(int), image_bgr.shape[1::-1])
    if x2 <= x1 or y2 <= y1:
        return 1.0
    grey = float(cv2.cvtColor(image_bgr[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY).mean())
    return float(np.clip((grey / 140.0) ** 0.5, 0.55, 1.1))
