"""Convert dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`) to TFLite.

The network (dlib's `dnn_face_recognition_ex.cpp`) is a 29-layer ResNet: conv 7x7/2, max pool,
then residual units `relu(add(block(x), shortcut))` where `block` is conv-affine-relu-conv-affine
and the shortcut is `x`, or a 2x2/2 average pool of `x` for the down-sampling units, then a
global average pool and a 128-unit fully connected layer without bias.

Folding: every `affine` (frozen batch norm) goes into the conv before it, and the input layer's
`(pixel - mean) / 256` goes into the first conv (valid padding, so exactly). The .tflite takes
`[1, 150, 150, 3]` float32 RGB in 0..255 and returns the `[1, 128]` descriptor.

dlib's `add_prev` adds tensors of different shapes by zero-extending the smaller one (channels
and, in the deepest units, rows/columns at the bottom-right); we do the same with PAD.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .dlib_dat import DlibFormatError, Layer, read_layers
from .tflite_writer import GraphBuilder

DESCRIPTION = ("dlib_face_recognition_resnet_model_v1 (Davis E. King, CC0-1.0), converted by kiosk; "
               "input [1,150,150,3] float32 RGB 0..255 dlib face chip, output [1,128] descriptor (Euclidean)")


def _fold_conv(conv: Layer, affine: Layer | None) -> tuple[np.ndarray, np.ndarray]:
    weights = conv.params["weights"].astype(np.float64)
    bias = conv.params["bias"].astype(np.float64)
    if affine is not None:
        gamma = affine.params["gamma"].astype(np.float64)
        beta = affine.params["beta"].astype(np.float64)
        weights = weights * gamma[:, None, None, None]
        bias = bias * gamma + beta
    return weights, bias


def _fold_input(weights: np.ndarray, bias: np.ndarray, mean_rgb: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """conv(W, (x - m) / 256) = conv(W / 256, x) - sum(W / 256 * m), exact for unpadded convolutions."""
    weights = weights / 256.0
    mean = np.asarray(mean_rgb, np.float64)
    bias = bias - np.einsum("oihw,i->o", weights, mean)
    return weights, bias


def convert(dat_path: Path) -> bytes:
    """The .tflite bytes for a dlib face recognition network file; raises DlibFormatError."""
    layers = read_layers(dat_path)
    size = layers[0].params["size"]
    mean_rgb = layers[0].params["mean_rgb"]
    g = GraphBuilder()
    image = g.activation([1, size[0], size[1], 3], "input_rgb_0_255")
    x = image
    unit_in: int | None = None       # input of the current residual unit
    shortcut: int | None = None      # its down-sampled shortcut, if any
    first_conv = True
    n = 0
    i = 1

    def next_is(kind: str) -> bool:
        return i + 1 < len(layers) and layers[i + 1].kind == kind

    while i < len(layers):
        layer = layers[i]
        n += 1
        if layer.kind == "conv":
            affine = None
            if next_is("affine"):
                i += 1
                affine = layers[i]
            weights, bias = _fold_conv(layer, affine)
            if first_conv:
                if layer.params["padding"] != (0, 0):
                    raise DlibFormatError("the first convolution is padded; the input normalisation cannot be folded")
                weights, bias = _fold_input(weights, bias, mean_rgb)
                first_conv = False
            relu = next_is("relu")
            if relu:
                i += 1
            stride, padding = layer.params["stride"], layer.params["padding"]
            k = weights.shape[2]
            same = padding != (0, 0)
            if stride[0] != stride[1] or (same and (stride[0] != 1 or padding != (k // 2, k // 2))):
                raise DlibFormatError(f"unsupported convolution stride {stride} padding {padding}")
            x = g.conv2d(x, weights, bias, stride[0], same, "relu" if relu else "none", f"conv{n}")
        elif layer.kind == "max_pool":
            x = g.pool2d(x, "max", layer.params["size"][0], layer.params["stride"][0], f"max_pool{n}")
            unit_in = x
        elif layer.kind == "avg_pool":
            if layer.params["size"] == (0, 0):          # avg_pool_everything
                x = g.global_mean(x, "global_avg_pool")
            else:
                if unit_in is None:
                    raise DlibFormatError("average pool shortcut outside a residual unit")
                shortcut = g.pool2d(unit_in, "avg", layer.params["size"][0], layer.params["stride"][0],
                                    f"shortcut{n}")
        elif layer.kind == "add_prev":
            other = shortcut if shortcut is not None else unit_in
            if other is None:
                raise DlibFormatError("residual add without a unit input")
            x, other = _match_shapes(g, x, other, n)
            relu = next_is("relu")
            if relu:
                i += 1
            x = g.add(x, other, "relu" if relu else "none", f"add{n}")
            unit_in, shortcut = x, None
        elif layer.kind == "fc":
            x = g.fully_connected(x, layer.params["weights"].T, layer.params["bias"], "descriptor")
        else:
            raise DlibFormatError(f"unexpected {layer.kind} layer at position {i}")
        i += 1
    return g.serialize([image], [x], DESCRIPTION)


def _match_shapes(g: GraphBuilder, a: int, b: int, n: int) -> tuple[int, int]:
    """Zero-extend a and b (bottom/right, trailing channels) to their common largest shape, as dlib's add does."""
    target = [max(p, q) for p, q in zip(g.shape(a), g.shape(b), strict=True)]
    out = []
    for t, name in ((a, "a"), (b, "b")):
        extra = [goal - have for goal, have in zip(target, g.shape(t), strict=True)]
        if any(extra):
            t = g.pad(t, [(0, e) for e in extra], f"pad{n}{name}")
        out.append(t)
    return out[0], out[1]
