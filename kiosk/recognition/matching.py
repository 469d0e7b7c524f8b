"""1:N face matching: every template of the active model in one float32 matrix, searched with numpy.

Distance is the embedding model's metric: Euclidean (dlib ResNet) or cosine (1 - cosine similarity,
computed on unit-normalised rows); a search returns the best PERSON and the margin to
the second-best person (several templates of one person never make a margin). Rows are added and
removed in place when persons change (`refresh_person`), so the matrix is never rebuilt from SQLite
after the first load. Searches and updates may come from different threads: a lock guards the rows.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..types import MatchResult

if TYPE_CHECKING:
    from ..store import Store


class Matcher:
    def __init__(self, model_id: str, dim: Optional[int] = None, metric: str = "euclidean") -> None:
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"unknown metric {metric!r} (euclidean or cosine)")
        self.model_id = model_id
        self.metric = str(metric)
        self.dim = dim
        self._lock = threading.RLock()
        self._matrix = np.zeros((0, dim or 0), np.float32)
        self._sqnorm = np.zeros(0, np.float32)
        self._codes = np.zeros(0, np.int32)          # person code per row
        self._template_ids: list[str] = []           # template id per row
        self._rows = 0
        self._code_of: dict[str, int] = {}           # person id -> code
        self._person_of: list[Optional[str]] = []    # code -> person id (None once removed)
        self._rows_of: dict[int, list[int]] = {}     # code -> its rows

    @classmethod
    def from_store(cls, store: Store, model_id: str, metric: str = "euclidean") -> Matcher:
        """Decrypt every live template of `model_id` and build the matrix (metric: the pipeline's `.metric`)."""
        matcher = cls(model_id, metric=metric)
        template_ids, person_ids, matrix = store.load_templates(model_id)
        matcher.add(template_ids, person_ids, matrix)
        return matcher

    def __len__(self) -> int:
        return self._rows

    @property
    def person_count(self) -> int:
        return len(self._rows_of)

    def _reserve(self, extra: int) -> None:
        need = self._rows + extra
        if need <= self._matrix.shape[0]:
            return
        capacity = max(need, 2 * self._matrix.shape[0], 1024)
        matrix = np.zeros((capacity, self.dim or 0), np.float32)
        matrix[: self._rows] = self._matrix[: self._rows]
        sqnorm = np.zeros(capacity, np.float32)
        sqnorm[: self._rows] = self._sqnorm[: self._rows]
        codes = np.full(capacity, -1, np.int32)
        codes[: self._rows] = self._codes[: self._rows]
        self._matrix, self._sqnorm, self._codes = matrix, sqnorm, codes

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine galleries hold unit vectors, so 1 - cos = squared L2 / 2 on the same matrix product."""
        if self.metric != "cosine":
            return vectors
        norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def add(self, template_ids: Sequence[str], person_ids: Sequence[str], matrix: np.ndarray) -> None:
        """Append templates (one row of `matrix` per template id)."""
        if not len(template_ids):
            return
        matrix = self._prepare(np.asarray(matrix, np.float32))
        if matrix.ndim != 2 or matrix.shape[0] != len(template_ids) or len(person_ids) != len(template_ids):
            raise ValueError("add() needs one matrix row and one person id per template id")
        with self._lock:
            if self.dim is None or (self._rows == 0 and self._matrix.shape[1] != matrix.shape[1]):
                self.dim = matrix.shape[1]
                self._matrix = np.zeros((0, self.dim), np.float32)
            if matrix.shape[1] != self.dim:
                raise ValueError(f"templates of {matrix.shape[1]} values do not fit a gallery of {self.dim}")
            self._reserve(len(template_ids))
            start, end = self._rows, self._rows + len(template_ids)
            self._matrix[start:end] = matrix
            self._sqnorm[start:end] = np.einsum("ij,ij->i", matrix, matrix)
            for row, (template_id, person_id) in enumerate(zip(template_ids, person_ids, strict=True), start):
                code = self._code_of.get(person_id)
                if code is None:
                    code = self._code_of[person_id] = len(self._person_of)
                    self._person_of.append(person_id)
                self._codes[row] = code
                self._rows_of.setdefault(code, []).append(row)
                self._template_ids.append(template_id)
            self._rows = end

    def remove_person(self, person_id: str) -> int:
        """Drop every row of a person (swap-with-last, no rebuild); returns the rows removed."""
        with self._lock:
            code = self._code_of.pop(person_id, None)
            if code is None:
                return 0
            self._person_of[code] = None
            rows = sorted(self._rows_of.pop(code), reverse=True)
            for row in rows:
                last = self._rows - 1
                if row != last:
                    moved = int(self._codes[last])
                    self._matrix[row] = self._matrix[last]
                    self._sqnorm[row] = self._sqnorm[last]
                    self._codes[row] = moved
                    self._template_ids[row] = self._template_ids[last]
                    moved_rows = self._rows_of[moved]
                    moved_rows[moved_rows.index(last)] = row
                self._template_ids.pop()
                self._codes[last] = -1
                self._rows = last
            return len(rows)

    def refresh_person(self, store: Store, person_id: str) -> int:
        """Bring one person's rows in line with the store (the change hook); returns their rows now."""
        template_ids, person_ids, matrix = store.load_templates(self.model_id, [person_id])
        with self._lock:    # searches see the old rows or the new ones, never none
            self.remove_person(person_id)
            self.add(template_ids, person_ids, matrix)
        return len(template_ids)

    def _distance(self, partial: float, query: np.ndarray) -> float:
        """The metric's distance from `|t|^2 - 2 q.t` (the part that depends on the template)."""
        if not math.isfinite(partial):
            return math.inf
        squared = max(partial + float(query @ query), 0.0)
        return squared / 2.0 if self.metric == "cosine" else math.sqrt(squared)

    def follow(self, store: Store) -> Callable[[], None]:
        """Keep this gallery in step with the store: local changes and applied fleet records refresh the
        person's rows. Returns the function that stops following."""
        return store.subscribe(lambda person_id: self.refresh_person(store, person_id), include_remote=True)

    def search(self, embedding: np.ndarray, threshold: float, min_margin: float = 0.0,
               exclude: Optional[str] = None) -> MatchResult:
        """The nearest enrolled person. person_id is set only when the distance is within `threshold`
        and the margin to the second-best person is at least `min_margin`. `exclude` leaves one person
        out (the duplicate check at enrollment)."""
        query = self._prepare(np.asarray(embedding, np.float32).reshape(-1))
        with self._lock:
            n = self._rows
            if n == 0:
                return MatchResult(None, math.inf, math.inf, threshold)
            if query.size != self.dim:
                raise ValueError(f"embedding of {query.size} values, the gallery holds {self.dim}")
            codes = self._codes[:n]
            # einsum runs numpy's own single-threaded SIMD loop: on a busy board, multi-threaded BLAS
            # (matmul) competing with the camera and inference threads was 4x slower with a long tail.
            d2 = np.einsum("ij,j->i", self._matrix[:n], query)
            d2 *= -2.0
            d2 += self._sqnorm[:n]
            if exclude is not None and exclude in self._code_of:
                d2[codes == self._code_of[exclude]] = np.inf
            best_row = int(np.argmin(d2))
            best = d2[best_row]
            best_code = int(codes[best_row])
            d2[codes == best_code] = np.inf
            second = d2.min()
            person_id = self._person_of[best_code]
        distance, runner_up = self._distance(float(best), query), self._distance(float(second), query)
        margin = runner_up - distance
        accepted = distance <= threshold and margin >= min_margin
        return MatchResult(person_id if accepted else None, distance, margin, threshold)
