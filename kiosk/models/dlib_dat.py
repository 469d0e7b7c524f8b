"""Read the layers of a dlib DNN file (`*.dat` written by `dlib::serialize(net)`) with numpy.

dlib serialises the network from the loss layer inwards, so after a header of version numbers
the layer *details* follow from the input layer outwards. Each layer's details start with its
type name (`con_4`, `affine_`, ...) written as a dlib string. We scan for those names in order
and decode each one's parameters; bytes between layers (book-keeping flags, empty gradient
tensors) are skipped. Only the layer types used by dlib's face models are understood; an
unknown or truncated file raises `DlibFormatError`.

dlib's encodings: an integer is one control byte (low nibble = byte count, bit 7 = negative)
followed by that many little-endian bytes; a float is a mantissa integer and an exponent
integer; a tensor is version 2, four dimensions, then little-endian float32 values.
"""
from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class DlibFormatError(ValueError):
    """The file is not a dlib network of the kind this reader understands."""


@dataclass
class Layer:
    kind: str                                    # input, conv, affine, relu, max_pool, avg_pool, add_prev, fc
    params: dict = field(default_factory=dict)


_NAMES = {
    "input_rgb_image_sized": "input",
    "con_4": "conv",
    "affine_": "affine",
    "relu_": "relu",
    "max_pool_2": "max_pool",
    "avg_pool_2": "avg_pool",
    "add_prev_": "add_prev",
    "fc_2": "fc",
}
# A dlib string: control byte 0x01, one length byte, then the name.
_NAME_RE = re.compile(b"\x01([\x04-\x16])(" + b"|".join(re.escape(n.encode()) for n in _NAMES) + b")")


class _Cursor:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def _need(self, count: int) -> None:
        if self.pos + count > len(self.data):
            raise DlibFormatError(f"truncated at byte {self.pos}")

    def int(self) -> int:
        self._need(1)
        control = self.data[self.pos]
        size = control & 0x0F
        self._need(1 + size)
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def string(self) -> str:
        size = self.int()
        self._need(size)
        text = self.data[self.pos:self.pos + size].decode("ascii")
        self.pos += size
        return text

    def float(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        return float(mantissa) * 2.0 ** exponent

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at byte {self.pos} (expected 2)")
        shape = [self.int() for _ in range(4)]
        count = int(np.prod(shape))
        self._need(4 * count)
        values = np.frombuffer(self.data, "<f4", count, self.pos).reshape(shape).copy()
        self.pos += 4 * count
        return values

    def alias_shape(self) -> list[builtins.int]:   # `int` here is the method above
        version = self.int()
        if version != 1:
            raise DlibFormatError(f"alias tensor version {version} at byte {self.pos} (expected 1)")
        return [self.int() for _ in range(4)]


def _read_layer(cur: _Cursor, kind: str) -> Layer:
    if kind == "input":
        mean = [cur.float() for _ in range(3)]
        rows, cols = cur.int(), cur.int()
        return Layer(kind, {"mean_rgb": mean, "size": (rows, cols)})
    if kind == "conv":
        values = cur.tensor().ravel()
        filters, rows, cols = cur.int(), cur.int(), cur.int()
        stride = (cur.int(), cur.int())
        padding = (cur.int(), cur.int())
        weight_shape = cur.alias_shape()
        cur.alias_shape()                        # bias alias
        for _ in range(4):                       # learning-rate and weight-decay multipliers
            cur.float()
        n_weights = int(np.prod(weight_shape))
        weights = values[:n_weights].reshape(weight_shape)  # (out, in, rows, cols)
        bias = values[n_weights:n_weights + filters]
        if weights.shape[0] != filters or weights.shape[2:] != (rows, cols) or bias.size != filters:
            raise DlibFormatError(f"inconsistent conv layer at byte {cur.pos}")
        return Layer(kind, {"weights": weights, "bias": bias, "stride": stride, "padding": padding})
    if kind == "affine":
        values = cur.tensor().ravel()
        gamma_shape = cur.alias_shape()
        cur.alias_shape()
        cur.int()                                # mode (per channel for conv nets)
        n = int(np.prod(gamma_shape))
        return Layer(kind, {"gamma": values[:n].copy(), "beta": values[n:2 * n].copy()})
    if kind in ("max_pool", "avg_pool"):
        rows, cols = cur.int(), cur.int()
        stride = (cur.int(), cur.int())
        padding = (cur.int(), cur.int())
        return Layer(kind, {"size": (rows, cols), "stride": stride, "padding": padding})
    if kind == "fc":
        outputs, inputs = cur.int(), cur.int()
        values = cur.tensor().ravel()
        cur.alias_shape()
        cur.alias_shape()
        has_bias = cur.int() == 0                # dlib: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
        weights = values[:inputs * outputs].reshape(inputs, outputs)
        fc_bias = values[inputs * outputs:inputs * outputs + outputs] if has_bias else None
        return Layer(kind, {"weights": weights, "bias": fc_bias})
    return Layer(kind)                           # relu, add_prev: no parameters


def read_layers(path: Path) -> list[Layer]:
    """The network's layers from the input outwards; raises DlibFormatError on a file it cannot read."""
    data = Path(path).read_bytes()
    layers: list[Layer] = []
    pos = 0
    while True:
        match = _NAME_RE.search(data, pos)
        if match is None:
            break
        name = match.group(2).decode()
        if match.group(1)[0] != len(name):
            pos = match.start() + 1
            continue
        cur = _Cursor(data, match.end())
        layers.append(_read_layer(cur, _NAMES[name]))
        pos = cur.pos
    if not layers or layers[0].kind != "input":
        raise DlibFormatError("no dlib input_rgb_image_sized layer found (not a dlib face network)")
    if layers[-1].kind != "fc":
        raise DlibFormatError("the network does not end in a fully connected layer")
    return layers
