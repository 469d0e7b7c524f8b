"""Build a float32 TFLite model (NHWC) from numpy weights, without TensorFlow.

The graph is assembled with the object API of LiteRT's generated schema module
(`ai_edge_litert.schema_py_generated`) and serialised with `flatbuffers`. Only the handful
of built-in operators a plain CNN needs are offered. The output is deterministic: the same
weights give the same bytes.
"""
from __future__ import annotations

from typing import Any, Literal

import flatbuffers
import numpy as np

# Activation fused into the operator before it: none, max(x, 0) or min(max(x, 0), 6).
Activation = Literal["none", "relu", "relu6"]


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as exc:  # pragma: no cover - depends on the platform's wheels
        raise RuntimeError("converting a model needs the ai-edge-litert package (its TFLite schema module)") from exc
    return schema_py_generated


class GraphBuilder:
    """Adds tensors and operators; `serialize()` gives the .tflite bytes."""

    def __init__(self) -> None:
        self.S = _schema()
        self._buffers = [self.S.BufferT()]          # buffer 0: the empty buffer of non-constant tensors
        self._tensors: list = []
        self._operators: list = []
        self._opcodes: dict[int, int] = {}

    # -- tensors ---------------------------------------------------------------------------
    def activation(self, shape: list[int], name: str) -> int:
        return self._add_tensor(shape, name, self.S.TensorType.FLOAT32, buffer=0)

    def constant(self, array: np.ndarray, name: str) -> int:
        array = np.ascontiguousarray(array)
        types = {np.dtype("float32"): self.S.TensorType.FLOAT32, np.dtype("int32"): self.S.TensorType.INT32}
        if array.dtype not in types:
            raise TypeError(f"constant {name}: unsupported dtype {array.dtype}")
        buffer = self.S.BufferT()
        buffer.data = np.frombuffer(array.tobytes(), np.uint8)
        self._buffers.append(buffer)
        return self._add_tensor(list(array.shape), name, types[array.dtype], buffer=len(self._buffers) - 1)

    def shape(self, tensor: int) -> list[int]:
        return list(self._tensors[tensor].shape)

    def _add_tensor(self, shape: list[int], name: str, dtype: int, buffer: int) -> int:
        tensor = self.S.TensorT()
        tensor.shape = [int(d) for d in shape]
        tensor.type = dtype
        tensor.name = name
        tensor.buffer = buffer
        self._tensors.append(tensor)
        return len(self._tensors) - 1

    def _operator(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0,
                  options: object = None) -> None:
        if code not in self._opcodes:
            self._opcodes[code] = len(self._opcodes)
        op = self.S.OperatorT()
        op.opcodeIndex = self._opcodes[code]
        op.inputs = list(inputs)
        op.outputs = list(outputs)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        self._operators.append(op)

    def _fused(self, activation: Activation) -> int:
        kind = self.S.ActivationFunctionType
        return {"none": kind.NONE, "relu": kind.RELU, "relu6": kind.RELU6}[activation]

    def _padding(self, same: bool) -> int:
        return self.S.Padding.SAME if same else self.S.Padding.VALID

    @staticmethod
    def _out_size(size: int, kernel: int, stride: int, same: bool) -> int:
        return -(-size // stride) if same else (size - kernel) // stride + 1

    def _conv_options(self, opt: Any, stride: int, same: bool, activation: Activation) -> Any:
        """Padding, stride, no dilation and the fused activation: what plain and depthwise convolutions share."""
        opt.padding = self._padding(same)
        opt.strideH = opt.strideW = stride
        opt.dilationHFactor = opt.dilationWFactor = 1
        opt.fusedActivationFunction = self._fused(activation)
        return opt

    # -- layers ----------------------------------------------------------------------------
    def conv2d(self, x: int, weights_oihw: np.ndarray, bias: np.ndarray, stride: int, same: bool,
               activation: Activation, name: str) -> int:
        """Convolution; `same` = TF 'SAME' padding (equals symmetric k//2 padding for odd k at stride 1)."""
        n, h, w, _ = self.shape(x)
        out_c, _, kh, kw = weights_oihw.shape
        oh, ow = self._out_size(h, kh, stride, same), self._out_size(w, kw, stride, same)
        w_t = self.constant(weights_oihw.transpose(0, 2, 3, 1).astype(np.float32), f"{name}/weights")
        b_t = self.constant(bias.astype(np.float32), f"{name}/bias")
        y = self.activation([n, oh, ow, out_c], name)
        opt = self._conv_options(self.S.Conv2DOptionsT(), stride, same, activation)
        self._operator(self.S.BuiltinOperator.CONV_2D, [x, w_t, b_t], [y], self.S.BuiltinOptions.Conv2DOptions, opt)
        return y

    def depthwise_conv2d(self, x: int, weights_c1hw: np.ndarray, bias: np.ndarray, stride: int, same: bool,
                         activation: Activation, name: str) -> int:
        """One kernel per channel (depth multiplier 1); weights in ONNX/PyTorch layout [C, 1, kh, kw]."""
        n, h, w, c = self.shape(x)
        out_c, one, kh, kw = weights_c1hw.shape
        if out_c != c or one != 1:
            raise ValueError(f"{name}: depthwise weights {list(weights_c1hw.shape)} do not fit {c} channels")
        oh, ow = self._out_size(h, kh, stride, same), self._out_size(w, kw, stride, same)
        w_t = self.constant(weights_c1hw.transpose(1, 2, 3, 0).astype(np.float32), f"{name}/weights")
        b_t = self.constant(bias.astype(np.float32), f"{name}/bias")
        y = self.activation([n, oh, ow, c], name)
        opt = self._conv_options(self.S.DepthwiseConv2DOptionsT(), stride, same, activation)
        opt.depthMultiplier = 1
        self._operator(self.S.BuiltinOperator.DEPTHWISE_CONV_2D, [x, w_t, b_t], [y],
                       self.S.BuiltinOptions.DepthwiseConv2DOptions, opt)
        return y

    def pool2d(self, x: int, kind: str, size: int, stride: int, name: str) -> int:
        """Max or average pooling with VALID padding."""
        n, h, w, c = self.shape(x)
        y = self.activation([n, (h - size) // stride + 1, (w - size) // stride + 1, c], name)
        opt = self.S.Pool2DOptionsT()
        opt.padding = self.S.Padding.VALID
        opt.strideH = opt.strideW = stride
        opt.filterHeight = opt.filterWidth = size
        opt.fusedActivationFunction = self._fused("none")
        code = self.S.BuiltinOperator.MAX_POOL_2D if kind == "max" else self.S.BuiltinOperator.AVERAGE_POOL_2D
        self._operator(code, [x], [y], self.S.BuiltinOptions.Pool2DOptions, opt)
        return y

    def pad(self, x: int, paddings: list[tuple[int, int]], name: str) -> int:
        """Zero padding; `paddings` holds (before, after) per dimension."""
        p = self.constant(np.array(paddings, np.int32), f"{name}/paddings")
        shape = [d + a + b for d, (a, b) in zip(self.shape(x), paddings, strict=True)]
        y = self.activation(shape, name)
        self._operator(self.S.BuiltinOperator.PAD, [x, p], [y], self.S.BuiltinOptions.PadOptions, self.S.PadOptionsT())
        return y

    def add(self, a: int, b: int, activation: Activation, name: str) -> int:
        if self.shape(a) != self.shape(b):
            raise ValueError(f"{name}: cannot add shapes {self.shape(a)} and {self.shape(b)}")
        y = self.activation(self.shape(a), name)
        opt = self.S.AddOptionsT()
        opt.fusedActivationFunction = self._fused(activation)
        self._operator(self.S.BuiltinOperator.ADD, [a, b], [y], self.S.BuiltinOptions.AddOptions, opt)
        return y

    def global_mean(self, x: int, name: str) -> int:
        """Mean over height and width: NHWC -> NC."""
        n, _, _, c = self.shape(x)
        axes = self.constant(np.array([1, 2], np.int32), f"{name}/axes")
        y = self.activation([n, c], name)
        opt = self.S.ReducerOptionsT()
        opt.keepDims = False
        self._operator(self.S.BuiltinOperator.MEAN, [x, axes], [y], self.S.BuiltinOptions.ReducerOptions, opt)
        return y

    def fully_connected(self, x: int, weights_out_in: np.ndarray, bias: np.ndarray | None, name: str) -> int:
        w_t = self.constant(weights_out_in.astype(np.float32), f"{name}/weights")
        b_t = -1 if bias is None else self.constant(bias.astype(np.float32), f"{name}/bias")
        y = self.activation([self.shape(x)[0], weights_out_in.shape[0]], name)
        opt = self.S.FullyConnectedOptionsT()
        opt.fusedActivationFunction = self._fused("none")
        opt.keepNumDims = False
        self._operator(self.S.BuiltinOperator.FULLY_CONNECTED, [x, w_t, b_t], [y],
                       self.S.BuiltinOptions.FullyConnectedOptions, opt)
        return y

    def reshape(self, x: int, shape: list[int], name: str) -> int:
        """Same elements in row-major order, new shape (no -1: give the shape in full)."""
        if int(np.prod(shape)) != int(np.prod(self.shape(x))):
            raise ValueError(f"{name}: cannot reshape {self.shape(x)} to {shape}")
        s_t = self.constant(np.array(shape, np.int32), f"{name}/shape")
        y = self.activation(shape, name)
        opt = self.S.ReshapeOptionsT()
        opt.newShape = list(shape)
        self._operator(self.S.BuiltinOperator.RESHAPE, [x, s_t], [y], self.S.BuiltinOptions.ReshapeOptions, opt)
        return y

    # -- output ----------------------------------------------------------------------------
    def serialize(self, inputs: list[int], outputs: list[int], description: str) -> bytes:
        graph = self.S.SubGraphT()
        graph.tensors = self._tensors
        graph.inputs = list(inputs)
        graph.outputs = list(outputs)
        graph.operators = self._operators
        graph.name = "main"
        codes = []
        for code, _ in sorted(self._opcodes.items(), key=lambda item: item[1]):
            opcode = self.S.OperatorCodeT()
            opcode.builtinCode = code
            opcode.deprecatedBuiltinCode = min(code, 127)  # 127 = "see builtinCode"
            opcode.version = 1
            codes.append(opcode)
        model = self.S.ModelT()
        model.version = 3
        model.operatorCodes = codes
        model.subgraphs = [graph]
        model.buffers = self._buffers
        model.description = description
        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
