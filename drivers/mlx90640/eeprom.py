"""EEPROM parameter extraction and validation (Melexis MLX90640 datasheet, section 11).

`parse_eeprom(words)` turns the 832 EEPROM words into a `Calibration` (every field of Melexis'
`paramsMLX90640`, per-pixel fields as numpy arrays) or raises `EepromError` with one line that
names the problem. Alpha, Kta and Kv are stored as the same fixed-point integers with a shared
power-of-two scale as Melexis' C library and Adafruit's driver keep them, so the temperatures
match those references to their float rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .registers import COLS, EEPROM_WORDS, PIXELS, ROWS

SCALE_ALPHA = 1e-6  # Melexis' SCALEALPHA: alpha is kept as SCALE_ALPHA / alpha in fixed point

# Plausibility limits for fields of a healthy device. Real dumps sit well inside them
# (gainEE ~5600-6000, VPTAT25 ~12200, KtPTAT ~42.6, KVdd ~ -3000); a value outside means a corrupt read.
GAIN_EE_RANGE = (2000, 16000)
VPTAT25_RANGE = (5000, 20000)
KT_PTAT_RANGE = (10.0, 100.0)
K_VDD_RANGE = (-4096, -1024)
ALPHA_RANGE = (1e-9, 5e-7)          # pixel sensitivity after TGC compensation
MAX_BAD_PIXELS = 4                  # Melexis' limit for broken + outlier pixels


class EepromError(ValueError):
    """The EEPROM content is not a usable MLX90640 calibration (corrupt read, wrong device)."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"MLX90640 EEPROM rejected: {problem}")


@dataclass(frozen=True, eq=False)
class Calibration:
    """Melexis' `paramsMLX90640`, one field per parameter (names in snake case)."""

    k_vdd: int                  # kVdd
    vdd25: int                  # vdd25
    kv_ptat: float              # KvPTAT
    kt_ptat: float              # KtPTAT
    v_ptat25: int               # vPTAT25
    alpha_ptat: float           # alphaPTAT
    gain_ee: int                # gainEE
    tgc: float
    cp_kv: float
    cp_kta: float
    resolution_ee: int          # ADC resolution the device was calibrated at (0..3 = 16..19 bit)
    calibration_chess: bool     # calibrationModeEE == 0x80: calibrated in chess mode
    ks_ta: float                # KsTa
    ks_to: np.ndarray           # (4,) KsTo for To ranges 0..3
    ct: np.ndarray              # (4,) corner temperatures: -40, 0, CT3, CT4 (Melexis' ct[0..3])
    alpha: np.ndarray           # (768,) uint16: SCALE_ALPHA * 2**alpha_scale / sensitivity
    alpha_scale: int
    offset: np.ndarray          # (768,) int16
    kta: np.ndarray             # (768,) int8, Kta * 2**kta_scale
    kta_scale: int
    kv: np.ndarray              # (768,) int8, Kv * 2**kv_scale
    kv_scale: int
    cp_alpha: np.ndarray        # (2,) compensation-pixel alpha for subpages 0, 1
    cp_offset: np.ndarray       # (2,) int
    il_chess_c: np.ndarray      # (3,) interleaved/chess correction ilChessC
    broken_pixels: np.ndarray   # pixel indices whose EEPROM word is 0
    outlier_pixels: np.ndarray  # pixel indices flagged outlier (bit 0)

    @property
    def sensitivity(self) -> np.ndarray:
        """Per-pixel alpha in physical units (what the fixed-point `alpha` encodes)."""
        return SCALE_ALPHA * 2.0 ** self.alpha_scale / self.alpha.astype(np.float64)

    @property
    def bad_pixels(self) -> np.ndarray:
        return np.sort(np.concatenate([self.broken_pixels, self.outlier_pixels]))


def _signed(value, bits: int):
    """Two's-complement value of the low `bits` bits (works on ints and int64 arrays)."""
    half = 1 << (bits - 1)
    return ((value + half) % (1 << bits)) - half


def _nibbles(words: np.ndarray) -> np.ndarray:
    """Signed 4-bit nibbles of consecutive words, low nibble first (row/column correction tables)."""
    nib = (words[:, None].astype(np.int64) >> np.array([0, 4, 8, 12])) & 0xF
    return _signed(nib.reshape(-1), 4)


def _fixed_point_scale(values: np.ndarray, limit: float) -> int:
    """Melexis' loop: the power of two that brings the largest |value| just above `limit`."""
    largest = float(np.max(np.abs(values)))
    if largest == 0.0:
        return 0
    scale = 0
    while largest < limit:
        largest *= 2
        scale += 1
    return scale


def _round_half_away(values: np.ndarray) -> np.ndarray:
    return np.trunc(np.where(values < 0, values - 0.5, values + 0.5))


def check_words(words: object) -> np.ndarray:
    """The EEPROM image as 832 uint16, refusing reads that cannot be a calibration."""
    arr = np.asarray(words)
    if arr.shape != (EEPROM_WORDS,):
        raise EepromError(f"expected {EEPROM_WORDS} words, got shape {arr.shape}")
    if arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() > 0xFFFF:
        raise EepromError("words must be integers 0..65535")
    arr = arr.astype(np.uint16)
    if not arr.any():
        raise EepromError("all 832 words read 0x0000 (no device answering, or a bus fault)")
    if (arr == 0xFFFF).all():
        raise EepromError("all 832 words read 0xFFFF (no device answering, or the bus is stuck high)")
    return arr


def parse_eeprom(words: object) -> Calibration:
    """Extract every calibration parameter from EEPROM 0x2400..0x273F and validate it."""
    ee = check_words(words)
    e = ee.astype(np.int64)
    pix = e[64:64 + PIXELS]
    rows = np.repeat(np.arange(ROWS), COLS)
    cols = np.tile(np.arange(COLS), ROWS)

    k_vdd = _signed(e[51] >> 8, 8) * 32
    vdd25 = (((int(e[51]) & 0xFF) - 256) << 5) - 8192
    kv_ptat = _signed((e[50] & 0xFC00) >> 10, 6) / 4096.0
    kt_ptat = _signed(e[50] & 0x03FF, 10) / 8.0
    v_ptat25 = int(_signed(e[49], 16))
    alpha_ptat = (int(e[16]) & 0xF000) / 2.0 ** 14 + 8.0
    gain_ee = int(_signed(e[48], 16))
    tgc = _signed(e[60] & 0xFF, 8) / 32.0
    resolution_ee = (int(e[56]) & 0x3000) >> 12
    ks_ta = _signed(e[60] >> 8, 8) / 8192.0

    # Corner temperatures and KsTo per range.
    step = ((int(e[63]) & 0x3000) >> 12) * 10
    ct2 = ((int(e[63]) & 0x00F0) >> 4) * step
    ct3 = ct2 + ((int(e[63]) & 0x0F00) >> 8) * step
    ks_to_scale = float(1 << ((int(e[63]) & 0x000F) + 8))
    ks_to = np.array([_signed(e[61] & 0xFF, 8), _signed(e[61] >> 8, 8),
                      _signed(e[62] & 0xFF, 8), _signed(e[62] >> 8, 8)], dtype=np.float64) / ks_to_scale
    ct = np.array([-40, 0, ct2, ct3], dtype=np.int64)

    # Compensation pixels.
    cp_alpha_scale = ((int(e[32]) & 0xF000) >> 12) + 27
    cp_alpha0 = _signed(e[57] & 0x03FF, 10) / 2.0 ** cp_alpha_scale
    cp_alpha1 = (1 + _signed((e[57] & 0xFC00) >> 10, 6) / 128.0) * cp_alpha0
    cp_offset0 = _signed(e[58] & 0x03FF, 10)
    cp_offset1 = _signed((e[58] & 0xFC00) >> 10, 6) + cp_offset0
    kta_scale1 = ((int(e[56]) & 0x00F0) >> 4) + 8
    kta_scale2 = int(e[56]) & 0x000F
    kv_scale_ee = (int(e[56]) & 0x0F00) >> 8
    cp_kta = _signed(e[59] & 0xFF, 8) / 2.0 ** kta_scale1
    cp_kv = _signed(e[59] >> 8, 8) / 2.0 ** kv_scale_ee

    # Alpha: reference + row + column + per-pixel remainder, TGC-compensated, kept in fixed point.
    acc_rem_scale = int(e[32]) & 0xF
    acc_col_scale = (int(e[32]) & 0xF0) >> 4
    acc_row_scale = (int(e[32]) & 0xF00) >> 8
    alpha_scale_ee = ((int(e[32]) & 0xF000) >> 12) + 30
    acc_row = _nibbles(e[34:40])
    acc_col = _nibbles(e[40:48])
    alpha_px = (int(e[33]) + acc_row[rows] * (1 << acc_row_scale) + acc_col[cols] * (1 << acc_col_scale)
                + _signed((pix & 0x03F0) >> 4, 6) * (1 << acc_rem_scale)) / 2.0 ** alpha_scale_ee
    alpha_px = alpha_px - tgc * (cp_alpha0 + cp_alpha1) / 2
    with np.errstate(divide="ignore"):
        alpha_recip = SCALE_ALPHA / alpha_px
    alpha_scale = _fixed_point_scale(alpha_recip, 32767.4)

    # Offset: reference + row + column + remainder.
    occ_rem_scale = int(e[16]) & 0xF
    occ_col_scale = (int(e[16]) & 0xF0) >> 4
    occ_row_scale = (int(e[16]) & 0xF00) >> 8
    offset = (int(_signed(e[17], 16)) + _nibbles(e[18:24])[rows] * (1 << occ_row_scale)
              + _nibbles(e[24:32])[cols] * (1 << occ_col_scale)
              + _signed((pix & 0xFC00) >> 10, 6) * (1 << occ_rem_scale))

    # Kta and Kv: one value per (row parity, column parity) plus a per-pixel Kta remainder.
    split = 2 * (rows % 2) + cols % 2
    kta_rc = np.array([_signed(e[54] >> 8, 8), _signed(e[55] >> 8, 8), _signed(e[54] & 0xFF, 8), _signed(e[55] & 0xFF, 8)])
    kta_px = (kta_rc[split] + _signed((pix & 0x000E) >> 1, 3) * (1 << kta_scale2)) / 2.0 ** kta_scale1
    kta_scale = _fixed_point_scale(kta_px, 63.4)
    kv_t = _signed(np.array([(e[52] >> 12) & 0xF, (e[52] >> 4) & 0xF, (e[52] >> 8) & 0xF, e[52] & 0xF]), 4)
    kv_px = kv_t[split] / 2.0 ** kv_scale_ee
    kv_scale = _fixed_point_scale(kv_px, 63.4)

    il0 = _signed(e[53] & 0x003F, 6) / 16.0
    il1 = _signed((e[53] & 0x07C0) >> 6, 5) / 2.0
    il2 = _signed((e[53] & 0xF800) >> 11, 5) / 8.0

    broken = np.flatnonzero(pix == 0)
    outlier = np.flatnonzero((pix != 0) & (pix & 1 == 1))

    _validate(gain_ee=gain_ee, v_ptat25=v_ptat25, kt_ptat=kt_ptat, k_vdd=k_vdd, ct=ct, cp_alpha=(cp_alpha0, cp_alpha1),
              alpha_px=alpha_px, offset=offset, broken=broken, outlier=outlier)

    with np.errstate(over="ignore", invalid="ignore"):
        alpha_fixed = np.floor(alpha_recip * 2.0 ** alpha_scale + 0.5)
    return Calibration(
        k_vdd=int(k_vdd), vdd25=int(vdd25), kv_ptat=float(kv_ptat), kt_ptat=float(kt_ptat), v_ptat25=v_ptat25,
        alpha_ptat=float(alpha_ptat), gain_ee=gain_ee, tgc=float(tgc), cp_kv=float(cp_kv), cp_kta=float(cp_kta),
        resolution_ee=resolution_ee, calibration_chess=not (int(e[10]) & 0x0800), ks_ta=float(ks_ta),
        ks_to=ks_to, ct=ct,
        alpha=alpha_fixed.astype(np.uint16), alpha_scale=alpha_scale,
        offset=offset.astype(np.int16),
        kta=_round_half_away(kta_px * 2.0 ** kta_scale).astype(np.int8), kta_scale=kta_scale,
        kv=_round_half_away(kv_px * 2.0 ** kv_scale).astype(np.int8), kv_scale=kv_scale,
        cp_alpha=np.array([cp_alpha0, cp_alpha1]), cp_offset=np.array([cp_offset0, cp_offset1], dtype=np.int64),
        il_chess_c=np.array([il0, il1, il2]),
        broken_pixels=broken, outlier_pixels=outlier,
    )


def _validate(*, gain_ee: int, v_ptat25: int, kt_ptat: float, k_vdd: int, ct: np.ndarray, cp_alpha: tuple[float, float],
              alpha_px: np.ndarray, offset: np.ndarray, broken: np.ndarray, outlier: np.ndarray) -> None:
    def in_range(name: str, value: float, bounds: tuple[float, float]) -> None:
        if not bounds[0] <= value <= bounds[1]:
            raise EepromError(f"{name} = {value:g} is out of range ({bounds[0]:g}..{bounds[1]:g})")

    in_range("gainEE (0x2430)", gain_ee, GAIN_EE_RANGE)
    in_range("VPTAT25 (0x2431)", v_ptat25, VPTAT25_RANGE)
    in_range("KtPTAT (0x2432)", kt_ptat, KT_PTAT_RANGE)
    in_range("KVdd (0x2433)", k_vdd, K_VDD_RANGE)
    if not 0 < ct[2] <= ct[3]:
        raise EepromError(f"corner temperatures CT3 = {ct[2]} C, CT4 = {ct[3]} C (0x243F) are inconsistent: "
                          "expected 0 < CT3 <= CT4")
    if not (cp_alpha[0] > 0 and cp_alpha[1] > 0):
        raise EepromError(f"compensation-pixel alpha {cp_alpha[0]:.3g}, {cp_alpha[1]:.3g} (0x2439) is not positive")
    good = np.ones(PIXELS, dtype=bool)
    good[broken] = False
    bad_alpha = np.flatnonzero(good & ~((alpha_px >= ALPHA_RANGE[0]) & (alpha_px <= ALPHA_RANGE[1])))
    if bad_alpha.size:
        p = int(bad_alpha[0])
        raise EepromError(f"pixel {p} sensitivity alpha = {alpha_px[p]:.3g} is out of range "
                          f"({ALPHA_RANGE[0]:g}..{ALPHA_RANGE[1]:g}); {bad_alpha.size} pixels affected (0x2420..0x242F)")
    if offset.min() < -32768 or offset.max() > 32767:
        raise EepromError("pixel offsets overflow 16 bits (0x2411..0x241F inconsistent)")
    if broken.size + outlier.size > MAX_BAD_PIXELS:
        raise EepromError(f"{broken.size} broken and {outlier.size} outlier pixels; at most {MAX_BAD_PIXELS} "
                          "can be interpolated")
    bad = np.concatenate([broken, outlier])
    for i, a in enumerate(bad):
        for b in bad[i + 1:]:
            if abs(int(a) // COLS - int(b) // COLS) <= 1 and abs(int(a) % COLS - int(b) % COLS) <= 1:
                raise EepromError(f"bad pixels {int(a)} and {int(b)} are adjacent; they cannot be interpolated")
