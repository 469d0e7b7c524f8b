"""What an MLX90640's frames cover: 24 x 32 pixels over its lens' field of view."""
from __future__ import annotations

from ..thermal.base import ThermalGeometry
from .registers import COLS, ROWS

# Lens variants (datasheet, horizontal x vertical degrees): BAB is the standard, BAA the wide one.
LENSES: dict[str, tuple[float, float]] = {"55x35": (55.0, 35.0), "110x75": (110.0, 75.0)}
STANDARD_LENS = "55x35"


def mlx90640_geometry(lens: str = STANDARD_LENS) -> ThermalGeometry:
    """The geometry of an MLX90640 with `lens` ("55x35" or "110x75")."""
    try:
        return ThermalGeometry(ROWS, COLS, LENSES[str(lens)])
    except KeyError:
        raise ValueError(f"MLX90640 lens {lens!r} must be one of {', '.join(LENSES)}") from None
