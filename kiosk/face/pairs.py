"""Verification pair files: LFW's `pairs.txt` and the TSV format of the evaluation data.

LFW `pairs.txt`: a first line `FOLDS PAIRS` (or just `PAIRS` for one fold), then per fold PAIRS
matched lines `name i j` followed by PAIRS mismatched lines `name1 i name2 j`; image
`<root>/<name>/<name>_<i:04d>.jpg`. TSV: a header with `img_a`, `img_b`, `same` and optionally
`kind` and `fold` (a whole number per pair: the protocol's folds, used by the k-fold accuracy
instead of folds of our own); paths are relative to the TSV's folder.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


class PairsError(ValueError):
    """The pairs file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    same: bool
    kind: Optional[str] = None
    fold: Optional[int] = None


def identity_of(path: Path) -> str:
    """The person an image belongs to: its folder's name (LFW, MFR2 layouts)."""
    return path.parent.name


def read_pairs(path: Path, images_root: Optional[Path] = None) -> list[Pair]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PairsError(f"{path}: cannot read pairs file: {exc}") from None
    first = text.splitlines()[0] if text.strip() else ""
    if "\t" in first and "img_a" in first:
        return _read_tsv(path, text)
    return _read_lfw(path, text, images_root or path.parent)


def _read_tsv(path: Path, text: str) -> list[Pair]:
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    missing = {"img_a", "img_b", "same"} - set(rows.fieldnames or [])
    if missing:
        raise PairsError(f"{path}: header lacks {', '.join(sorted(missing))}")
    has_folds = "fold" in (rows.fieldnames or [])
    pairs = []
    for line, row in enumerate(rows, start=2):
        if row["same"] not in ("0", "1"):
            raise PairsError(f"{path}:{line}: same = {row['same']!r}, expected 0 or 1")
        fold = None
        if has_folds:
            try:
                fold = int(row["fold"] or "")
            except ValueError:
                raise PairsError(f"{path}:{line}: fold = {row['fold']!r}, expected a whole number") from None
        pairs.append(Pair(path.parent / row["img_a"], path.parent / row["img_b"], row["same"] == "1",
                          row.get("kind") or None, fold))
    return pairs


def _lfw_image(root: Path, name: str, number: str) -> Path:
    return root / name / f"{name}_{int(number):04d}.jpg"


def _read_lfw(path: Path, text: str, root: Path) -> list[Pair]:
    lines = [line.split() for line in text.splitlines() if line.strip()]
    try:
        header = [int(v) for v in lines[0]]
    except (IndexError, ValueError):
        raise PairsError(f"{path}:1: expected 'FOLDS PAIRS' (LFW pairs.txt) or a TSV header") from None
    folds, per_half = (header[0], header[1]) if len(header) == 2 else (1, header[0])
    body = lines[1:]
    if len(body) != folds * per_half * 2:
        raise PairsError(f"{path}: header says {folds} x {2 * per_half} pairs, file has {len(body)}")
    if not (root / body[0][0]).is_dir() and (root / "images").is_dir():
        root = root / "images"
    pairs = []
    for index, fields in enumerate(body):
        fold = index // (2 * per_half)
        try:
            if len(fields) == 3:
                pairs.append(Pair(_lfw_image(root, fields[0], fields[1]), _lfw_image(root, fields[0], fields[2]),
                                  True, fold=fold))
            elif len(fields) == 4:
                pairs.append(Pair(_lfw_image(root, fields[0], fields[1]), _lfw_image(root, fields[2], fields[3]),
                                  False, fold=fold))
            else:
                raise ValueError
        except ValueError:
            raise PairsError(f"{path}:{index + 2}: expected 'name i j' or 'name1 i name2 j'") from None
    return pairs
