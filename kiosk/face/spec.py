"""Model spec files: everything the pipeline needs to know to run one model file.

A spec is a JSON file `<models_dir>/<id>.json`. Adding a TFLite embedding model means dropping
its `.tflite` and a spec like this beside it (and setting `face.embedder = "<id>"`):

    {"id": "my_embedder", "task": "embedder", "file": "my_embedder.tflite",
     "input_size": [112, 112], "color": "rgb", "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5],
     "metric": "cosine",
     "template": [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]}

`file` may be absolute. `template` holds the five alignment points in input-pixel coordinates,
in this order: eye on the image-left, eye on the image-right, nose tip, mouth corner on the
image-left, mouth corner on the image-right. The input is `(pixel - mean) / std` per channel.
`stranger_scores` (written by `kiosk eval strangers`) describes how close strangers come: the
per-comparison false-match rate as a function of the distance, with a fitted tail for the rates the
data cannot show, plus a few genuine-pair quantiles. The security levels derive the threshold in
force from it and the number of templates enrolled (kiosk.face.openset). Without it, `thresholds`
(a distance per level, a per-comparison FAR target) is used as it is, whatever the number enrolled;
without either the pipeline refuses to start (ModelError) unless `recognition.threshold` is set.
`template` is for five points in YuNet's (MTCNN's) convention; points of another landmark source sit
a little differently on the face (FaceMesh's nose tip is lower), so `landmark_templates` may give a
template per source (`{"facemesh": [...]}`); without one it is derived (kiosk.face.landmarks).

An `ensemble` spec has no file: it joins the vectors of installed embedders (`members`), each
unit-normalised and scaled by the square root of its `weights` entry, so that its cosine similarity
is the weighted mean of the members' (kiosk.face.ensemble).
"""
from __future__ import annotations

import json
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ModelError


class Metric(StrEnum):
    euclidean = "euclidean"   # L2 distance of the raw vectors
    cosine = "cosine"         # 1 - cosine similarity


def _descending(points: list[tuple[float, float]], what: str) -> None:
    if any(a[0] <= b[0] or a[1] <= b[1] for a, b in pairwise(points)):
        raise ValueError(f"{what} must fall strictly in both rate and distance, point by point")


class ScoreTail(BaseModel):
    """Where impostor pairs are too few to count: a normal tail below `distance`, a straight line in probit
    scale, FMR(t) = Phi(Phi^-1(fmr) + (t - distance) / scale), fitted by least squares to the empirical
    quantiles between the false-match rates `fit_from` and `fit_to`."""

    model_config = ConfigDict(extra="forbid")

    distance: float = Field(description="where the fitted tail takes over from the measured points")
    fmr: float = Field(gt=0, lt=1, description="share of impostor pairs at or below `distance`")
    scale: float = Field(gt=0, description="distance per standard normal deviate")
    fit_from: float = Field(gt=0, lt=1, description="largest false-match rate of the fitted quantiles")
    fit_to: float = Field(gt=0, lt=1, description="smallest false-match rate of the fitted quantiles")


class StrangerScores(BaseModel):
    """Where strangers' (impostors') distances fall, and genuine ones, for one model (`kiosk eval strangers`)."""

    model_config = ConfigDict(extra="forbid")

    measured_on: str = Field(min_length=1, description="data, split and command the impostor pairs came from")
    impostor_pairs: int = Field(gt=0)
    fmr: list[tuple[float, float]] = Field(min_length=2, description="(false-match rate, distance) points of the "
                                                                     "empirical distribution, rate descending; "
                                                                     "the last one is where the tail starts")
    tail: ScoreTail
    trusted_fmr: float = Field(gt=0, lt=1, description="smallest per-comparison rate the fitted tail is relied on for")
    genuine_measured_on: str = Field(min_length=1)
    genuine_pairs: int = Field(gt=0)
    genuine: list[tuple[float, float]] = Field(min_length=2, description="(share of genuine pairs at or below, "
                                                                         "distance) points, both ascending")

    @model_validator(mode="after")
    def _consistent(self) -> StrangerScores:
        _descending(self.fmr, "stranger_scores.fmr")
        if not all(0 < rate < 1 for rate, _ in self.fmr):
            raise ValueError("stranger_scores.fmr rates must lie between 0 and 1")
        if (self.fmr[-1][0], self.fmr[-1][1]) != (self.tail.fmr, self.tail.distance):
            raise ValueError("stranger_scores.fmr must end where the tail starts (tail.fmr, tail.distance)")
        _descending([(-q, -d) for q, d in self.genuine], "stranger_scores.genuine")
        if not all(0 <= q <= 1 for q, _ in self.genuine):
            raise ValueError("stranger_scores.genuine shares must lie between 0 and 1")
        return self


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    task: str = Field(pattern=r"^(detector|embedder|landmarks|mask|ensemble)$")
    file: Optional[str] = Field(None, description="the model file; every task but 'ensemble' has one")
    sha256: Optional[str] = Field(None, pattern=r"^[0-9a-f]{64}$")
    input_size: Optional[tuple[int, int]] = Field(None, description="width, height of the model input (every task "
                                                                    "but 'ensemble')")
    color: str = Field("rgb", pattern=r"^(rgb|bgr)$")
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    metric: Optional[Metric] = None
    template: Optional[list[tuple[float, float]]] = None
    landmark_templates: Optional[dict[str, list[tuple[float, float]]]] = None
    thresholds: Optional[dict[str, float]] = None
    thresholds_source: Optional[str] = None
    stranger_scores: Optional[StrangerScores] = None
    members: Optional[list[str]] = Field(None, description="ensemble: the embedder ids whose vectors it joins")
    weights: Optional[list[float]] = Field(None, description="ensemble: each member's share of the cosine similarity")
    licence: Optional[str] = None
    source: Optional[str] = None

    @model_validator(mode="after")
    def _file_or_members(self) -> ModelSpec:
        if self.task == "ensemble":
            if not self.members or len(self.members) < 2 or self.file is not None:
                raise ValueError("an ensemble names two or more member embedders in 'members' and has no 'file'")
            if self.weights is None or len(self.weights) != len(self.members) or min(self.weights) <= 0:
                raise ValueError("an ensemble needs one positive weight per member in 'weights'")
        elif self.file is None or self.input_size is None:
            raise ValueError(f"a {self.task} needs its model 'file' and 'input_size'")
        return self

    @field_validator("template")
    @classmethod
    def _five_points(cls, value: Optional[list[tuple[float, float]]]) -> Optional[list[tuple[float, float]]]:
        if value is not None and len(value) != 5:
            raise ValueError("template needs exactly 5 points (eyes, nose tip, mouth corners)")
        return value

    @field_validator("landmark_templates")
    @classmethod
    def _five_points_each(cls, value: Optional[dict[str, list[tuple[float, float]]]]
                          ) -> Optional[dict[str, list[tuple[float, float]]]]:
        for source, points in (value or {}).items():
            if len(points) != 5:
                raise ValueError(f"landmark template {source!r} needs exactly 5 points")
        return value

    def model_input_size(self) -> tuple[int, int]:
        """(width, height) of the model input; every spec with a model file has one (validated)."""
        if self.input_size is None:
            raise ValueError(f"spec {self.id} ({self.task}) has no input_size")
        return self.input_size

    def model_path(self, spec_dir: Path) -> Path:
        if self.file is None:
            raise ValueError(f"spec {self.id} ({self.task}) has no model file")
        path = Path(self.file)
        return path if path.is_absolute() else spec_dir / path


def spec_path(models_dir: Path, model_id: str) -> Path:
    return Path(models_dir) / f"{model_id}.json"


def load_spec(models_dir: Path, model_id: str) -> ModelSpec:
    """The spec `<models_dir>/<model_id>.json`; ModelError (one line, with the fix) when missing or invalid."""
    path = spec_path(models_dir, model_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(path, "missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(path, f"unreadable spec ({exc})") from None
    try:
        spec = ModelSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelError(path, f"invalid spec: {where}: {first['msg']}") from None
    if spec.id != model_id:
        raise ModelError(path, f"spec id {spec.id!r} does not match its file name")
    return spec


def save_spec(models_dir: Path, spec: ModelSpec) -> Path:
    path = spec_path(models_dir, spec.id)
    path.write_text(json.dumps(spec.model_dump(mode="json", exclude_none=True), indent=2) + "\n", encoding="utf-8")
    return path
