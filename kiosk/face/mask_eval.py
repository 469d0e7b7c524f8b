"""`kiosk eval mask`: the mask classifier on a labelled image list, with the detector in front of it.

Accuracy is over the faces found (as the kiosk only ever scores found faces); the share found and
the accuracy over all images (a face not found counts as wrong) are reported beside it.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .crops import Detects, find_face
from .errors import ImageError
from .images import read_image
from .mask_scorer import MaskScorer


class LabelsError(ValueError):
    """A labels file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Labelled:
    image: Path
    masked: bool


def read_labels(path: Path) -> list[Labelled]:
    """Rows of a TSV with columns `image` (relative to the file's folder) and `masked` (0/1); others ignored."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            missing = {"image", "masked"} - set(reader.fieldnames or [])
            if missing:
                raise LabelsError(f"{path}: missing column(s) {', '.join(sorted(missing))} in the header row")
            rows = []
            for line, row in enumerate(reader, start=2):
                if row["masked"] not in ("0", "1"):
                    raise LabelsError(f"{path}:{line}: masked must be 0 or 1, not {row['masked']!r}")
                rows.append(Labelled(path.parent / row["image"], row["masked"] == "1"))
    except OSError as exc:
        raise LabelsError(f"{path}: {exc.strerror or exc}") from None
    return rows


def evaluate_mask(detector: Detects, scorer: MaskScorer, rows: list[Labelled], threshold: float, detector_name: str,
                  progress: bool = True) -> dict:
    """The JSON report: images, detected, accuracy (over found faces) and the detail behind them.

    `detector` should give the keypoints the kiosk gives the scorer (a FacePipeline's `detect` does)."""
    from tqdm import tqdm

    counts = {(truth, predicted): 0 for truth in (True, False) for predicted in (True, False)}
    found = {True: 0, False: 0}
    failures: list[dict] = []
    with_border = 0
    for row in tqdm(rows, desc="mask", unit="img", disable=not progress):
        try:
            image = read_image(row.image)
        except ImageError as exc:
            failures.append({"image": str(row.image), "masked": row.masked, "problem": str(exc)})
            continue
        hit = find_face(detector, image)
        if hit.detection is None:
            failures.append({"image": str(row.image), "masked": row.masked, "problem": "no face found"})
            continue
        found[row.masked] += 1
        with_border += hit.with_border
        score = scorer.score(hit.image, hit.detection)
        predicted = score >= threshold
        counts[(row.masked, predicted)] += 1
        if predicted != row.masked:
            failures.append({"image": str(row.image), "masked": row.masked,
                             "problem": f"scored {score:.3f} ({'masked' if predicted else 'bare'})"})
    detected = found[True] + found[False]
    correct = counts[(True, True)] + counts[(False, False)]

    def per_class(masked: bool) -> dict:
        total = sum(1 for r in rows if r.masked == masked)
        right = counts[(masked, masked)]
        return {"images": total, "detected": found[masked], "correct": right,
                "recall": right / found[masked] if found[masked] else None}

    return {
        "images": len(rows), "detected": detected, "detected_share": detected / len(rows) if rows else 0.0,
        "accuracy": correct / detected if detected else 0.0, "correct": correct,
        "accuracy_over_all_images": correct / len(rows) if rows else 0.0,
        "threshold": threshold, "classifier": scorer.model_id, "detector": detector_name,
        "found_only_with_border": with_border,
        "masked": per_class(True), "bare": per_class(False),
        "confusion": {"masked_as_masked": counts[(True, True)], "masked_as_bare": counts[(True, False)],
                      "bare_as_masked": counts[(False, True)], "bare_as_bare": counts[(False, False)]},
        "failures": failures,
    }


def format_mask_report(report: dict) -> str:
    m, b = report["masked"], report["bare"]

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    return "\n".join([
        f"classifier {report['classifier']}, detector {report['detector']}, threshold {report['threshold']:g}",
        f"{report['images']} images, {report['detected']} faces found ({pct(report['detected_share'])}; "
        f"{report['found_only_with_border']} only with a border)",
        f"accuracy {pct(report['accuracy'])} on the faces found ({report['correct']} of {report['detected']}), "
        f"{pct(report['accuracy_over_all_images'])} of all images",
        f"  masked: {m['detected']} of {m['images']} found, {pct(m['recall'])} called masked",
        f"  bare:   {b['detected']} of {b['images']} found, {pct(b['recall'])} called bare",
    ])
