"""Calibration tools for the camera + MLX90640 rig: captures, fits, plots (`python -m calibration --help`)."""

KINDS = ("registration", "distance", "blackbody", "ambient")   # capture kinds, in the order the fit uses them
