"""The project's ONNX -> TFLite converter on MobileFaceNet: same output as onnxruntime, same bytes every run."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from kiosk.face.align import align
from kiosk.face.images import read_image
from kiosk.face.runtime import TFLiteModel
from kiosk.models.onnx_to_tflite import OnnxConversionError, convert
from kiosk.models.registry import MOBILEFACENET_ONNX, default_model

SPEC = default_model("mobilefacenet").spec


@pytest.fixture(scope="module")
def onnx_path(shared_dir: Path) -> Path:
    path = shared_dir / "models" / "embedding" / "mobilefacenet_foamliu.onnx"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == MOBILEFACENET_ONNX.sha256
    return path


@pytest.fixture(scope="module")
def converted(onnx_path: Path, tmp_path_factory) -> TFLiteModel:
    directory = tmp_path_factory.mktemp("mobilefacenet")
    (directory / SPEC.file).write_bytes(convert(onnx_path))
    return TFLiteModel(SPEC, directory)          # checks the pinned sha256 and the input shape


def _chips(pipeline, testdata: Path) -> list[np.ndarray]:
    """Every face of the test photos, aligned to MobileFaceNet's 112 px template as the pipeline does."""
    chips = []
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg", "astronaut.png"):
        image = read_image(testdata / name)
        for face in pipeline.detect(image):
            chip, _ = align(image, face.keypoints, face.layout, np.asarray(SPEC.template, np.float32),
                            SPEC.input_size)
            chips.append(chip)
    return chips


def test_converted_model_matches_onnxruntime(converted: TFLiteModel, onnx_path: Path, pipeline, testdata: Path):
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batches = [converted.prepare(chip) for chip in _chips(pipeline, testdata)]
    assert len(batches) == 6
    batches.append(np.random.default_rng(7).normal(size=(1, 112, 112, 3)).astype(np.float32))
    for batch in batches:
        ours = converted.run(batch)[0]
        reference = session.run(None, {name: batch.transpose(0, 3, 1, 2)})[0]
        assert ours.shape == reference.shape == (1, 128)
        assert np.abs(ours - reference).max() < 1e-4


def test_conversion_is_deterministic_and_matches_the_pin(onnx_path: Path):
    first, second = convert(onnx_path), convert(onnx_path)
    assert first == second
    assert hashlib.sha256(first).hexdigest() == SPEC.sha256


def _tiny_model(path: Path, op: str, **attributes) -> Path:
    """input [1,2,4,4] -> Conv 1x1 -> `op` -> output."""
    weights = numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node(op, ["c"], ["y"], name="the_node", **attributes)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weights])
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_an_unknown_operator_is_refused_by_name(tmp_path: Path):
    with pytest.raises(OnnxConversionError, match=r"node 'the_node' \(Sigmoid\): operator Sigmoid is not supported"):
        convert(_tiny_model(tmp_path / "sigmoid.onnx", "Sigmoid"))


def test_an_activation_not_after_a_conv_or_add_is_refused(tmp_path: Path):
    # Two consumers of the Conv output cannot both be fused: the second Relu is refused.
    path = _tiny_model(tmp_path / "relu.onnx", "Relu")
    model = onnx.load(str(path))
    model.graph.node.append(helper.make_node("Relu", ["c"], ["z"], name="second"))
    onnx.save(model, str(path))
    with pytest.raises(OnnxConversionError, match=r"'the_node' \(Relu\): an activation is supported only"):
        convert(path)


def test_a_file_that_is_not_onnx_is_one_line(tmp_path: Path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"\x00not a protobuf" * 10)
    with pytest.raises(OnnxConversionError, match="bogus.onnx: not a readable ONNX model"):
        convert(bogus)
