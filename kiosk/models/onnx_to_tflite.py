"""Convert a small ONNX CNN (MobileFaceNet as exported from PyTorch) to TFLite, without TensorFlow.

A graph walker over the ONNX nodes in their (topological) order. It knows only what such a
network is made of: Conv (plain, or depthwise with one kernel per channel), ReLU and ReLU6
(`Clip(0, 6)`) right after a Conv or Add (fused into it), Add of two activations, Reshape of an
`[N, C, 1, 1]` tensor, and Constant. Any other operator or attribute is refused with an error
naming the node, so a new model is converted correctly or not at all.

Layout: the ONNX input `[1, C, H, W]` becomes the TFLite input `[1, H, W, C]`; activations are
NHWC throughout. The weights are copied as float32 without folding or re-association, so the
output matches onnxruntime to float rounding. The input normalisation stays outside the model
(it is in the model's spec). The same ONNX file always gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .tflite_writer import Activation, GraphBuilder

DESCRIPTION = ("converted from ONNX by kiosk.models.onnx_to_tflite; input NHWC float32 "
               "(the ONNX NCHW input transposed, normalised as the source model expects)")


class OnnxConversionError(Exception):
    """The ONNX file cannot be converted (unknown operator or attribute, unreadable file). One line."""


def _load(path: Path):
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise OnnxConversionError(f"{path.name}: converting needs the onnx package (pip install 'onnx>=1.16,<2')") from None

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ValueError... for a bad file
        raise OnnxConversionError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return model.graph, constants


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Walker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.graph, self.constants = _load(path)
        self.g = GraphBuilder()
        self.tensors: dict[str, int] = {}          # ONNX name -> TFLite activation tensor (NHWC)
        self.consumers: dict[str, list] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in self.graph.output}
        self.fused: set[str] = set()                 # outputs of activation nodes folded into their producer
        for node in self.graph.node:                 # a Constant may come after the node that reads it
            if node.op_type == "Constant":
                self.read_constant(node)

    def fail(self, node, problem: str) -> OnnxConversionError:
        return OnnxConversionError(f"{self.path.name}: node {node.name or node.output[0]!r} ({node.op_type}): {problem}")

    def constant(self, node, name: str) -> np.ndarray:
        if name not in self.constants:
            raise self.fail(node, f"input {name!r} must be a constant")
        return self.constants[name]

    def activation_input(self, node, name: str) -> int:
        if name not in self.tensors:
            raise self.fail(node, f"input {name!r} is not a computed tensor (constant operands are not supported)")
        return self.tensors[name]

    # -- the graph ---------------------------------------------------------------------------
    def run(self, description: str) -> bytes:
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise OnnxConversionError(f"{self.path.name}: {len(inputs)} inputs, expected 1 image input")
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[0] != 1 or 0 in dims:
            raise OnnxConversionError(f"{self.path.name}: input {inputs[0].name} has shape {dims}, expected [1, C, H, W]")
        n, c, h, w = dims
        image = self.g.activation([n, h, w, c], inputs[0].name)
        self.tensors[inputs[0].name] = image
        handlers = {"Constant": lambda node: None, "Conv": self.on_conv, "Add": self.on_add,
                    "Reshape": self.on_reshape, "Relu": self.on_activation, "Clip": self.on_activation}
        for node in self.graph.node:
            handler = handlers.get(node.op_type)
            if handler is None:
                raise self.fail(node, f"operator {node.op_type} is not supported by this converter "
                                      f"(supported: {', '.join(sorted(handlers))})")
            handler(node)
        outputs = []
        for out in self.graph.output:
            tensor = self.tensors.get(out.name)
            if tensor is None:
                raise OnnxConversionError(f"{self.path.name}: output {out.name} is not computed by the graph")
            if len(self.g.shape(tensor)) != 2:
                raise OnnxConversionError(f"{self.path.name}: output {out.name} has shape {self.g.shape(tensor)}; "
                                          "only [N, D] outputs are converted (an NHWC image output would differ "
                                          "from the ONNX layout)")
            outputs.append(tensor)
        return self.g.serialize([image], outputs, description)

    # -- operators ---------------------------------------------------------------------------
    def read_constant(self, node) -> None:
        from onnx import numpy_helper

        value = _attributes(node).get("value")
        if value is None:
            raise self.fail(node, "only the 'value' form of Constant is supported")
        self.constants[node.output[0]] = numpy_helper.to_array(value)

    def fused_activation(self, node) -> Activation:
        """ReLU or ReLU6 that is the sole consumer of `node`'s output: fuse it and return its kind."""
        out = node.output[0]
        users = self.consumers.get(out, [])
        if out in self.outputs or len(users) != 1 or users[0].op_type not in ("Relu", "Clip"):
            return "none"
        user = users[0]
        kind = "relu" if user.op_type == "Relu" else self.clip_kind(user)
        self.fused.add(user.output[0])
        return kind

    def clip_kind(self, node) -> Activation:
        attrs = _attributes(node)
        bounds: list[float | None] = []
        for position, key in ((1, "min"), (2, "max")):
            if len(node.input) > position and node.input[position]:
                bounds.append(float(self.constant(node, node.input[position])))
            else:
                bounds.append(attrs.get(key))
        if bounds != [0.0, 6.0]:
            raise self.fail(node, f"Clip bounds {bounds}; only ReLU6 (0, 6) is supported")
        return "relu6"

    def on_activation(self, node) -> None:
        if node.output[0] not in self.fused:
            raise self.fail(node, "an activation is supported only as the sole consumer of a Conv or Add")
        producer = node.input[0]
        self.tensors[node.output[0]] = self.tensors[producer]

    def on_conv(self, node) -> None:
        attrs = _attributes(node)
        x = self.activation_input(node, node.input[0])
        weights = self.constant(node, node.input[1]).astype(np.float32)
        bias = (self.constant(node, node.input[2]).astype(np.float32) if len(node.input) > 2 and node.input[2]
                else np.zeros(weights.shape[0], np.float32))
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise self.fail(node, f"auto_pad {attrs['auto_pad']!r} is not supported, only explicit pads")
        if list(attrs.get("dilations", [1, 1])) != [1, 1]:
            raise self.fail(node, f"dilations {attrs['dilations']} are not supported")
        strides = list(attrs.get("strides", [1, 1]))
        if strides[0] != strides[1]:
            raise self.fail(node, f"strides {strides} differ per axis")
        stride = strides[0]
        _, h, w, channels = self.g.shape(x)
        kh, kw = weights.shape[2:]
        pads = list(attrs.get("pads", [0, 0, 0, 0]))       # top, left, bottom, right
        same = pads == _same_pads(h, w, kh, kw, stride)
        if not same and any(pads):
            x = self.g.pad(x, [(0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)], f"{node.output[0]}/pad")
        group = int(attrs.get("group", 1))
        activation = self.fused_activation(node)
        name = node.output[0]
        if group == 1:
            y = self.g.conv2d(x, weights, bias, stride, same, activation, name)
        elif group == channels == weights.shape[0]:
            y = self.g.depthwise_conv2d(x, weights, bias, stride, same, activation, name)
        else:
            raise self.fail(node, f"grouped convolution with group={group} over {channels} channels "
                                  "(only plain or depthwise with multiplier 1)")
        self.tensors[name] = y

    def on_add(self, node) -> None:
        a = self.activation_input(node, node.input[0])
        b = self.activation_input(node, node.input[1])
        if self.g.shape(a) != self.g.shape(b):
            raise self.fail(node, f"broadcasting add of {self.g.shape(a)} and {self.g.shape(b)} is not supported")
        self.tensors[node.output[0]] = self.g.add(a, b, self.fused_activation(node), node.output[0])

    def on_reshape(self, node) -> None:
        x = self.activation_input(node, node.input[0])
        shape = self.g.shape(x)
        if len(shape) != 4 or shape[1:3] != [1, 1]:
            raise self.fail(node, f"reshape of NHWC {shape}: only [N, 1, 1, C] tensors (ONNX [N, C, 1, 1]) "
                                  "keep the ONNX element order without a transpose")
        n, _, _, c = shape
        if _attributes(node).get("allowzero", 0):
            raise self.fail(node, "allowzero=1 is not supported")
        nchw = (n, c, 1, 1)
        target = [int(v) for v in self.constant(node, node.input[1]).ravel()]
        target = [nchw[i] if v == 0 else v for i, v in enumerate(target)]
        try:
            shape = list(np.empty(nchw, np.uint8).reshape(target).shape)
        except ValueError:
            raise self.fail(node, f"cannot reshape {list(nchw)} to {target}") from None
        self.tensors[node.output[0]] = self.g.reshape(x, shape, node.output[0])


def _same_pads(h: int, w: int, kh: int, kw: int, stride: int) -> list[int]:
    """TF 'SAME' padding as ONNX pads (top, left, bottom, right): the extra row/column goes at the end."""
    def split(size: int, k: int) -> tuple[int, int]:
        total = max((-(-size // stride) - 1) * stride + k - size, 0)
        return total // 2, total - total // 2
    (top, bottom), (left, right) = split(h, kh), split(w, kw)
    return [top, left, bottom, right]


def convert(onnx_path: Path, description: str = DESCRIPTION) -> bytes:
    """The .tflite bytes of an ONNX model; raises OnnxConversionError naming the node it cannot convert."""
    return _Walker(Path(onnx_path)).run(description)
