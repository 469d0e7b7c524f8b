"""GY-MCU90640 UART protocol: 1544-byte temperature frames, the stream decoder and the host commands.

Module -> host frame (little-endian)::

    5A 5A | 02 06 (data amount 1538) | 768 x int16 pixel C*100 | int16 Ta C*100 | uint16 checksum

The checksum is the sum of the first 771 16-bit words (bytes 0..1541) mod 65536. Host -> module
commands are `A5 <cmd> <arg> <(A5 + cmd + arg) & FF>`. The update-rate argument follows the module
manual's table (0..4 = 0.5..8 Hz); public sources disagree on it, so treat it as unverified on hardware.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .registers import COLS, PIXELS, ROWS

HEADER = b"\x5a\x5a"
DATA_AMOUNT = b"\x02\x06"          # 1538, little-endian
FRAME_BYTES = 1544
CHECKSUM_OFFSET = 1542

BAUD_ARGS = {9600: 0x01, 115200: 0x02, 460800: 0x03}
RATE_ARGS = {0.5: 0x00, 1.0: 0x01, 2.0: 0x02, 4.0: 0x03, 8.0: 0x04}


class UartFrameError(ValueError):
    """Bytes that are not a valid GY-MCU90640 frame."""


@dataclass(frozen=True, eq=False)
class UartFrame:
    temperatures: np.ndarray    # (24, 32) float64, C, exactly int16 / 100
    ta: float                   # module's sensor die temperature
    checksum: int


def checksum(data: bytes) -> int:
    """Sum of the little-endian 16-bit words of bytes 0..1541, mod 65536."""
    return int(np.frombuffer(data, dtype="<u2", count=CHECKSUM_OFFSET // 2).sum(dtype=np.uint64) & 0xFFFF)


def decode_frame(data: bytes) -> UartFrame:
    """One complete frame; UartFrameError names what is wrong."""
    if len(data) != FRAME_BYTES:
        raise UartFrameError(f"frame is {len(data)} bytes, expected {FRAME_BYTES}")
    if data[:2] != HEADER or data[2:4] != DATA_AMOUNT:
        raise UartFrameError(f"frame starts {data[:4].hex(' ')}, expected 5a 5a 02 06")
    stored = int.from_bytes(data[CHECKSUM_OFFSET:], "little")
    computed = checksum(data)
    if stored != computed:
        raise UartFrameError(f"checksum 0x{stored:04X} does not match the data (0x{computed:04X})")
    values = np.frombuffer(data, dtype="<i2", count=PIXELS + 1, offset=4)
    return UartFrame(values[:PIXELS].reshape(ROWS, COLS) / 100.0, int(values[PIXELS]) / 100.0, stored)


def encode_frame(temperatures_c: np.ndarray, ta_c: float) -> bytes:
    """The frame a module sends for these temperatures (rounded to 0.01 C, clipped to int16)."""
    values = np.append(np.asarray(temperatures_c, dtype=np.float64).reshape(PIXELS), ta_c)
    body = HEADER + DATA_AMOUNT + np.clip(np.rint(values * 100), -32768, 32767).astype("<i2").tobytes()
    return body + checksum(body).to_bytes(2, "little")


def command(cmd: int, arg: int) -> bytes:
    return bytes([0xA5, cmd, arg, (0xA5 + cmd + arg) & 0xFF])


def baud_command(baud: int) -> bytes:
    if baud not in BAUD_ARGS:
        raise ValueError(f"baud {baud} is not one of {sorted(BAUD_ARGS)}")
    return command(0x15, BAUD_ARGS[baud])


def rate_command(hz: float) -> bytes:
    if float(hz) not in RATE_ARGS:
        raise ValueError(f"module update rate {hz} Hz is not one of {sorted(RATE_ARGS)}")
    return command(0x25, RATE_ARGS[float(hz)])


def emissivity_command(emissivity: float) -> bytes:
    value = round(emissivity * 100)
    if not 1 <= value <= 100:
        raise ValueError(f"emissivity {emissivity} must be in 0.01..1.00")
    return command(0x45, value)


QUERY_MODE = command(0x35, 0x01)          # one frame per request (send again for each frame)
AUTO_OUTPUT = command(0x35, 0x02)
QUERY_EMISSIVITY = command(0x55, 0x01)    # reply: 5A 5A <e*100> <sum>
SAVE_SETTINGS = command(0x65, 0x01)       # baud/rate apply after this and a power cycle


class FrameSync:
    """Stream decoder: feed it bytes as they arrive, get complete, checksum-valid frames back.

    It looks for `5A 5A 02 06`, waits for 1544 bytes, and checks the checksum; on a mismatch it skips
    the header and searches again, so a corrupt or truncated frame costs only that frame. Emissivity
    query replies (`5A 5A <e> <sum>`) in the stream are recognised and kept in `emissivity_replies`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.counters = {"frames": 0, "bad_checksum": 0, "garbage_bytes": 0}
        self.emissivity_replies: list[float] = []

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[UartFrame]:
        buf = self._buf
        buf += data
        frames: list[UartFrame] = []
        while True:
            start = buf.find(HEADER)
            if start < 0:
                keep = 1 if buf[-1:] == HEADER[:1] else 0     # a lone 5A may be half a header
                self._garbage(len(buf) - keep)
                del buf[:len(buf) - keep]
                return frames
            if start:
                self._garbage(start)
                del buf[:start]
            if len(buf) < 4:
                return frames
            if buf[2:4] == DATA_AMOUNT:
                if len(buf) < FRAME_BYTES:
                    return frames
                try:
                    frames.append(decode_frame(bytes(buf[:FRAME_BYTES])))
                except UartFrameError:
                    self.counters["bad_checksum"] += 1
                    del buf[:2]
                    continue
                self.counters["frames"] += 1
                del buf[:FRAME_BYTES]
            elif buf[2] <= 100 and buf[3] == (0x5A + 0x5A + buf[2]) & 0xFF:
                self.emissivity_replies.append(buf[2] / 100.0)
                del buf[:4]
            else:
                self._garbage(1)
                del buf[:1]

    def _garbage(self, n: int) -> None:
        self.counters["garbage_bytes"] += n
