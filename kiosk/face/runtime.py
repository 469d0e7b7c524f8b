"""TFLite inference: LiteRT (`ai-edge-litert`), or `tflite_runtime` where only that is installed.

`TFLiteModel` is one model file plus its spec. Loading checks everything that can be checked
before the first frame, so a bad model stops the kiosk at start with one line naming the file:
missing, sha256 different from the spec (corrupt or replaced), not a TFLite file, or an input
shape different from the spec's. An interpreter is not thread-safe: use one `TFLiteModel` from
one thread at a time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from .errors import ModelError
from .spec import ModelSpec


def interpreter_class() -> tuple[type, str]:
    """The Interpreter class and the runtime's name."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite-runtime"
    except ImportError:
        raise RuntimeError("no TFLite runtime: install ai-edge-litert (or tflite-runtime with numpy<2)") from None


def _sha256(path: Path) -> str:
    from ..runtime.files import sha256_file

    return sha256_file(path)


class TFLiteModel:
    """A loaded model: `run(batch)` returns its outputs in the model's output order."""

    def __init__(self, spec: ModelSpec, spec_dir: Path, num_threads: int = 1, check_hash: bool = True,
                 run_size: Optional[tuple[int, int]] = None) -> None:
        """`run_size` (width, height) runs a fully convolutional model at another input size than the spec's."""
        self.spec = spec
        self.path = spec.model_path(Path(spec_dir))
        if not self.path.is_file():
            raise ModelError(self.path, "missing")
        self.sha256 = _sha256(self.path) if (check_hash or spec.sha256 is None) else spec.sha256
        if spec.sha256 is not None and self.sha256 != spec.sha256:
            raise ModelError(self.path, "corrupt or replaced (sha256 differs from its spec)")
        interpreter, self.runtime = interpreter_class()
        try:
            self._interpreter = interpreter(model_path=str(self.path), num_threads=num_threads)
            if run_size is not None:
                index = self._interpreter.get_input_details()[0]["index"]
                self._interpreter.resize_tensor_input(index, [1, run_size[1], run_size[0], 3])
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(self.path, f"not a loadable TFLite model ({reason})") from None
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            raise ModelError(self.path, f"has {len(inputs)} inputs, expected 1")
        self._input = inputs[0]
        width, height = run_size or spec.model_input_size()
        expected = [1, height, width, 3]
        if list(self._input["shape"]) != expected:
            raise ModelError(self.path, f"wrong shape: input {list(self._input['shape'])}, spec {spec.id} says {expected}")
        if self._input["dtype"] != np.float32:
            raise ModelError(self.path, f"input type {np.dtype(self._input['dtype']).name}, expected float32")
        self._outputs = self._interpreter.get_output_details()
        self._mean = np.asarray(spec.mean, np.float32)
        self._scale = 1.0 / np.asarray(spec.std, np.float32)
        self._identity = bool(np.all(self._mean == 0) and np.all(self._scale == 1))

    @property
    def output_shapes(self) -> list[list[int]]:
        return [list(d["shape"]) for d in self._outputs]

    def prepare(self, image_bgr: np.ndarray) -> np.ndarray:
        """A uint8 BGR image of the input size -> the normalised float32 input batch."""
        pixels = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB) if self.spec.color == "rgb" else image_bgr
        batch = pixels.astype(np.float32)[None]
        if not self._identity:
            batch -= self._mean
            batch *= self._scale
        return batch

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(d["index"]) for d in self._outputs]

    def describe(self) -> dict[str, Any]:
        return {"id": self.spec.id, "file": str(self.path), "runtime": self.runtime, "sha256": self.sha256}
