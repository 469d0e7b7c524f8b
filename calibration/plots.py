"""Pictures of a fit, for people: where the registration misses, and the distance curve."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kiosk.thermal.calibration import Calibration

from .fit import FitReport


def write_plots(report: FitReport, directory: Path) -> list[Path]:
    """registration.png and distance.png (whichever the fit has data for) in `directory`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    cal: Calibration = report.calibration
    if report.registration_pairs:
        cam = np.array([p[1] for p in report.registration_pairs])
        th = np.array([p[2] for p in report.registration_pairs])
        dist = np.array([p[3] for p in report.registration_pairs])
        mapped = cal.registration.to_thermal(cam, dist)
        error = mapped - th
        figure, axis = plt.subplots(figsize=(7, 5.5))
        cols, rows = cal.rig.thermal.width, cal.rig.thermal.height
        axis.add_patch(plt.Rectangle((-0.5, -0.5), cols, rows, fill=False, color="0.5"))
        scatter = axis.scatter(th[:, 0], th[:, 1], c=dist, cmap="viridis", label="target seen by the sensor")
        magnify = 20
        axis.quiver(th[:, 0], th[:, 1], error[:, 0] * magnify, error[:, 1] * magnify, angles="xy", scale_units="xy",
                    scale=1, color="crimson", width=0.004, label=f"registration error x{magnify}")
        axis.set_xlim(-1.5, cols + 0.5)
        axis.set_ylim(rows + 0.5, -1.5)
        axis.set_aspect("equal")
        axis.set_xlabel("thermal column")
        axis.set_ylabel("thermal row")
        axis.set_title(f"Registration: RMS {cal.registration.residual_px:.3f} px over {len(th)} pairs")
        figure.colorbar(scatter, ax=axis, label="target distance (m)")
        axis.legend(loc="lower right", fontsize=8)
        path = directory / "registration.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    if report.distance_points:
        points = np.array(report.distance_points)
        d = points[:, 0]
        grid = np.linspace(d.min(), d.max(), 100)
        offsets = np.array([cal.distance.offsets(x) for x in grid])
        figure, axis = plt.subplots(figsize=(7, 4.5))
        axis.scatter(d, points[:, 3] - points[:, 1], label="inner canthi: reference - raw reading")
        axis.scatter(d, points[:, 4] - points[:, 2], marker="s", label="forehead: reference - raw reading")
        axis.plot(grid, offsets[:, 0], label="canthi curve")
        axis.plot(grid, offsets[:, 1], label="forehead curve")
        axis.set_xlabel("face distance (m)")
        axis.set_ylabel("correction added (C)")
        axis.set_title(f"Distance curve: residual RMS {cal.distance.residual_c:.3f} C")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        path = directory / "distance.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written
