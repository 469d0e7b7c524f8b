"""A plausible synthetic MLX90640 calibration, encoded into the EEPROM layout (for the mock sensor).

Field magnitudes follow the datasheet's description of a typical device (offsets around -60 counts,
alpha around 4e-8, Kta around 7e-3, Kv around 0.4, gain around 5800); the per-pixel structure (row,
column and remainder corrections) is drawn from a seeded generator, so every seed is a different,
reproducible "device". Nothing here is taken from a real sensor's dump.
"""
from __future__ import annotations

import numpy as np

from .registers import COLS, CONTROL_DEFAULT, EEPROM_WORDS, PIXELS, ROWS


def _u(value: int, bits: int) -> int:
    """Two's-complement encoding of `value` in `bits` bits."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit in {bits} signed bits")
    return value & ((1 << bits) - 1)


def _pack_nibbles(values: np.ndarray) -> list[int]:
    """Signed nibbles, four per word, low nibble first."""
    v = [int(x) & 0xF for x in values]
    return [v[i] | v[i + 1] << 4 | v[i + 2] << 8 | v[i + 3] << 12 for i in range(0, len(v), 4)]


def _smooth(rng: np.random.Generator, n: int, amplitude: int) -> np.ndarray:
    """A smooth random profile of n signed nibble values (lens/vignetting-like), within +-amplitude."""
    x = np.linspace(-1.0, 1.0, n)
    shape = rng.uniform(-1, 1) * x + rng.uniform(0.3, 1.0) * (x ** 2 - 0.4) + rng.normal(0, 0.15, n)
    return np.clip(np.round(shape / max(np.abs(shape).max(), 1e-9) * amplitude), -8, 7).astype(int)


def synthetic_eeprom(seed: int = 0, *, calibrated_chess: bool = True, resolution_ee: int = 2,
                     broken: tuple[int, ...] = (), outliers: tuple[int, ...] = ()) -> np.ndarray:
    """832 EEPROM words (0x2400..0x273F) of a made-up but self-consistent MLX90640."""
    rng = np.random.default_rng(seed)
    ee = np.zeros(EEPROM_WORDS, dtype=np.int64)

    # Device words: ID (0x2407..0x2409), device options (0x240A), control register power-on value (0x240C).
    ee[7:10] = rng.integers(0, 0x10000, 3)
    ee[10] = 0x0499 | (0 if calibrated_chess else 0x0800)
    ee[12] = CONTROL_DEFAULT

    # Offsets: reference + row/column nibbles + 6-bit remainder.
    occ_row_scale, occ_col_scale, occ_rem_scale = 2, 1, 0
    alpha_ptat_code = 4                                     # alphaPTAT = 4 / 4 + 8 = 9
    ee[16] = alpha_ptat_code << 12 | occ_row_scale << 8 | occ_col_scale << 4 | occ_rem_scale
    ee[17] = _u(int(rng.integers(-90, -45)), 16)
    ee[18:24] = _pack_nibbles(_smooth(rng, ROWS, 5))
    ee[24:32] = _pack_nibbles(_smooth(rng, COLS, 6))
    offset_rem = np.clip(np.round(rng.normal(0, 6, PIXELS)), -32, 31).astype(int)

    # Alpha: scale 2**38, reference ~12500 -> ~4.5e-8, brighter in the centre of the field of view.
    acc_row_scale, acc_col_scale, acc_rem_scale, alpha_scale_code = 8, 9, 5, 8
    ee[32] = alpha_scale_code << 12 | acc_row_scale << 8 | acc_col_scale << 4 | acc_rem_scale
    ee[33] = int(rng.integers(11500, 14000))
    rows, cols = np.arange(ROWS), np.arange(COLS)
    vignette_r = np.round(-6 * ((rows - 11.5) / 11.5) ** 2 + 3 + rng.normal(0, 0.5, ROWS)).clip(-8, 7).astype(int)
    vignette_c = np.round(-6 * ((cols - 15.5) / 15.5) ** 2 + 3 + rng.normal(0, 0.5, COLS)).clip(-8, 7).astype(int)
    ee[34:40] = _pack_nibbles(vignette_r)
    ee[40:48] = _pack_nibbles(vignette_c)
    alpha_rem = np.clip(np.round(rng.normal(0, 8, PIXELS)), -32, 31).astype(int)

    # Supply, PTAT and gain.
    ee[48] = int(rng.integers(5500, 6100))                  # gainEE
    ee[49] = int(rng.integers(12150, 12250))                # VPTAT25
    ee[50] = _u(9, 6) << 10 | _u(int(rng.integers(336, 346)), 10)   # KvPTAT = 9/4096, KtPTAT ~ 42.6
    ee[51] = _u(int(rng.integers(-102, -90)), 8) << 8 | int(rng.integers(115, 140))   # KVdd ~ -3100, Vdd25 byte

    # Kv per (row, column) parity, scale 2**4; interleaved/chess corrections.
    kv_nibbles = [int(x) for x in rng.integers(3, 8, 4)]   # RoCo, ReCo, RoCe, ReCe
    ee[52] = kv_nibbles[0] << 12 | kv_nibbles[1] << 8 | kv_nibbles[2] << 4 | kv_nibbles[3]
    ee[53] = _u(int(rng.integers(-2, 3)), 5) << 11 | _u(int(rng.integers(2, 8)), 5) << 6 | _u(int(rng.integers(4, 12)), 6)

    # Kta per (row, column) parity: KtaRC ~ 50..70 / 2**13; per-pixel 3-bit remainder << 2.
    kta_rc = [int(x) for x in rng.integers(50, 71, 4)]    # RoCo, RoCe, ReCo, ReCe
    ee[54] = kta_rc[0] << 8 | kta_rc[2]
    ee[55] = kta_rc[1] << 8 | kta_rc[3]
    kta_scale1_code, kta_scale2, kv_scale = 5, 2, 4
    ee[56] = resolution_ee << 12 | kv_scale << 8 | kta_scale1_code << 4 | kta_scale2
    kta_rem = rng.integers(-2, 3, PIXELS)

    # Compensation pixels: alpha ~ 2.9e-9 (scale 2**35), offsets ~ -70, cpKv = 6/16, cpKta ~ 35/8192.
    ee[57] = _u(int(rng.integers(1, 4)), 6) << 10 | _u(int(rng.integers(90, 110)), 10)
    cp_offset0 = int(rng.integers(-80, -55))
    ee[58] = _u(int(rng.integers(2, 7)), 6) << 10 | _u(cp_offset0, 10)
    ee[59] = _u(6, 8) << 8 | _u(int(rng.integers(30, 40)), 8)

    # KsTa ~ -20/8192, TGC 0 (no cover glass), KsTo -105/2**19 per range, corners 300 C and 500 C.
    ee[60] = _u(int(rng.integers(-22, -8)), 8) << 8 | _u(0, 8)
    ks_to = [int(x) for x in rng.integers(-110, -50, 4)]
    ee[61] = _u(ks_to[1], 8) << 8 | _u(ks_to[0], 8)
    ee[62] = _u(ks_to[3], 8) << 8 | _u(ks_to[2], 8)
    step_code, ct3_steps, ct4_steps, ks_to_scale_code = 2, 15, 10, 11
    ee[63] = step_code << 12 | ct4_steps << 8 | ct3_steps << 4 | ks_to_scale_code

    pixel = (offset_rem & 0x3F) << 10 | (alpha_rem & 0x3F) << 4 | (kta_rem & 0x7) << 1
    pixel[pixel == 0] = 1 << 1          # a zero word would mean "broken"
    pixel[list(broken)] = 0
    pixel[list(outliers)] |= 1
    ee[64:] = pixel
    return ee.astype(np.uint16)
