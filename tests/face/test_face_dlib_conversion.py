"""The project's dlib -> TFLite converter and its TFLite writer."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.face.errors import ModelError
from kiosk.face.runtime import TFLiteModel, interpreter_class
from kiosk.face.spec import ModelSpec, load_spec
from kiosk.models.dlib_dat import DlibFormatError, read_layers
from kiosk.models.registry import default_model
from kiosk.models.tflite_writer import GraphBuilder
from kiosk.runtime.files import sha256_file


def test_converted_dlib_model_reproduces_dlibs_embedding(models_dir: Path, testdata: Path):
    model = TFLiteModel(load_spec(models_dir, "dlib_resnet_v1"), models_dir)
    chip = cv2.imread(str(testdata / "dlib_chip_obama_150.png"))
    ours = model.run(model.prepare(chip))[0][0]
    dlibs = np.load(testdata / "dlib_emb_obama.npy").ravel()
    assert ours.shape == (128,)
    assert np.abs(ours - dlibs).max() < 1e-4


def test_installed_files_match_pins(models_dir: Path):
    for model_id in ("blazeface_short", "blazeface_full", "dlib_resnet_v1"):
        spec = default_model(model_id).spec
        assert sha256_file(spec.model_path(models_dir)) == spec.sha256


def test_reader_rejects_a_file_that_is_not_a_dlib_network(tmp_path: Path):
    bogus = tmp_path / "bogus.dat"
    bogus.write_bytes(b"\x01\x05con_4" + bytes(range(256)) * 4)
    with pytest.raises(DlibFormatError):
        read_layers(bogus)
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    with pytest.raises(DlibFormatError, match="input"):
        read_layers(empty)


def _reference(x: np.ndarray, w1, b1, w2, b2, fc) -> np.ndarray:
    """numpy reference of conv3x3 SAME + relu, conv3x3 SAME, residual add + relu, global mean, fc."""
    def conv_same(t, w, b):
        padded = np.pad(t, ((1, 1), (1, 1), (0, 0)))
        out = np.zeros(t.shape[:2] + (w.shape[0],))
        for dy in range(3):
            for dx in range(3):
                patch = padded[dy:dy + t.shape[0], dx:dx + t.shape[1]]
                out += patch @ w[:, :, dy, dx].T
        return out + b
    h = np.maximum(conv_same(x, w1, b1), 0)
    h = np.maximum(conv_same(h, w2, b2) + x, 0)
    return h.mean(axis=(0, 1)) @ fc.T


def test_writer_builds_a_model_litert_runs_exactly(tmp_path: Path):
    rng = np.random.default_rng(3)
    w1, w2 = (rng.normal(size=(4, 4, 3, 3)).astype(np.float32) for _ in range(2))
    b1, b2 = (rng.normal(size=4).astype(np.float32) for _ in range(2))
    fc = rng.normal(size=(5, 4)).astype(np.float32)
    g = GraphBuilder()
    x = g.activation([1, 6, 6, 4], "x")
    h = g.conv2d(x, w1, b1, 1, True, "relu", "c1")
    h = g.conv2d(h, w2, b2, 1, True, "none", "c2")
    h = g.add(h, x, "relu", "add")
    y = g.fully_connected(g.global_mean(h, "mean"), fc, None, "fc")
    path = tmp_path / "tiny.tflite"
    path.write_bytes(g.serialize([x], [y], "test"))
    interpreter, _ = interpreter_class()
    it = interpreter(model_path=str(path))
    it.allocate_tensors()
    sample = rng.normal(size=(6, 6, 4)).astype(np.float32)
    it.set_tensor(it.get_input_details()[0]["index"], sample[None])
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])[0]
    np.testing.assert_allclose(got, _reference(sample.astype(np.float64), w1, b1, w2, b2, fc), rtol=1e-4, atol=1e-4)


def test_wrong_shape_model_is_a_clear_error(models_dir: Path):
    # The detector file where an embedder is expected: input 128x128, not 150x150.
    spec = ModelSpec(id="wrong", task="embedder", file=str(models_dir / "face_detection_short_range.tflite"),
                     input_size=(150, 150), metric="euclidean",
                     template=[(1, 1), (2, 1), (1.5, 2), (1, 3), (2, 3)])
    with pytest.raises(ModelError, match="wrong shape.*kiosk models install"):
        TFLiteModel(spec, models_dir)
