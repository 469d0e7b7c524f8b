"""Errors of the face pipeline, each phrased as one line for the operator."""
from __future__ import annotations

from pathlib import Path

RESTORE_COMMAND = "kiosk models install"


class ModelError(Exception):
    """A model file or spec is missing, corrupt or of the wrong shape. Names the file and the fix."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"model file {self.path}: {problem}; run `{RESTORE_COMMAND} --dir {self.path.parent}`")


# What building a FacePipeline raises for a bad set-up, each with a one-line message: a model problem,
# a detector setting it cannot use (ValueError), a missing runtime or package (RuntimeError).
PIPELINE_SETUP_ERRORS: tuple[type[Exception], ...] = (ModelError, ValueError, RuntimeError)


class FaceError(Exception):
    """No usable face in an image ("no face found", or a quality reason such as "move closer")."""


class ImageError(ValueError):
    """The image could not be read or decoded."""
