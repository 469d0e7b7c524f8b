"""The stranger scores measured for each embedding model and pinned in kiosk/data/stranger_scores (how
far apart different people's faces fall): the open-set thresholds come from them."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .masked import upper_space_id
from .spec import StrangerScores

# How close strangers come with each embedder: each security level's threshold is derived from it at the number
# of templates enrolled (kiosk.face.openset). Measured on the fit half of lfw_strangers only (the other half serves
# `kiosk eval open-set` as strangers), with the default detector and FaceMesh landmarks; kept as JSON in
# kiosk/data/stranger_scores/<id>.json. Re-measure after any change to detection, alignment or the model with
#   kiosk eval strangers ../shared/data/faces/lfw_strangers/images --genuine ../shared/data/faces/lfw_dev/pairs_dev.tsv \
#       --config CONFIG --write-spec
# (CONFIG naming the embedder) and copy the spec's `stranger_scores` into that file.
STRANGER_SCORES_DIR = Path(__file__).resolve().parent.parent / "data" / "stranger_scores"


def pinned_stranger_scores(model_id: str) -> StrangerScores:
    return _read_scores(STRANGER_SCORES_DIR / f"{model_id}.json")


def _read_scores(path: Path) -> StrangerScores:
    return StrangerScores.model_validate_json(path.read_text(encoding="utf-8"))


# The upper-face space of a model (kiosk.face.masked), in which masked walk-ups are matched, has stranger scores of
# its own: measured the same way with `kiosk eval strangers ... --upper-face --out DIR` and pinned as
# kiosk/data/stranger_scores/<id>+upper.json. A model without them matches masked faces whole.
def pinned_upper_stranger_scores(model_id: str) -> Optional[StrangerScores]:
    """The pinned upper-face stranger scores of a model (its spec id), or None where none were measured."""
    path = STRANGER_SCORES_DIR / f"{upper_space_id(model_id)}.json"
    return _read_scores(path) if path.is_file() else None
