"""Vdd, Ta and object temperature for one subpage, vectorised over its 384 pixels.

Melexis' per-pixel formula (datasheet 11.2, `MLX90640_CalculateTo`)::

    ir  = (raw * gain - offset * (1 + kta * dTa) * (1 + kv * dV) [+ il/chess terms] - tgc * cp) / emissivity
    aC  = alpha * (1 + KsTa * dTa)
    Sx  = KsTo1 * qrt(aC^3 * (ir + aC * TaTr))
    To1 = qrt(ir / (aC * (1 - KsTo1 * 273.15) + Sx) + TaTr) - 273.15
    To  = qrt(ir / (aC * alphaCorr[r] * (1 + KsTo[r] * (To1 - CT[r]))) + TaTr) - 273.15,  r = range of To1

with qrt(x) = x ** 0.25 and TaTr = Tr^4 - (Tr^4 - Ta^4) / emissivity (kelvin). Everything that does not
depend on the RAM is folded into per-pixel arrays once (`SubpagePlan`): the offset term becomes one
small matrix product with the vector (1, dTa, dV, dTa*dV, il, 1), so a subpage costs about twenty numpy
calls on 384 doubles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .eeprom import SCALE_ALPHA, Calibration
from .registers import (
    AUX_CP_SP0,
    AUX_CP_SP1,
    AUX_GAIN,
    AUX_TA_PTAT,
    AUX_TA_VBE,
    AUX_USED,
    AUX_VDD_PIX,
    COLS,
    CONTROL_CHESS,
    CONTROL_RESOLUTION_MASK,
    CONTROL_RESOLUTION_SHIFT,
    INVALID_WORD,
    PIXELS,
    ROWS,
)

KELVIN = 273.15
DEFAULT_REFLECTED_OFFSET_C = -8.0   # Melexis: in open air the reflected temperature is about Ta - 8 C
VDD_RANGE = (2.5, 4.0)              # a computed Vdd outside this means the RAM read is garbage
TA_RANGE = (-60.0, 150.0)


class FrameDataError(ValueError):
    """The RAM words are not a valid measurement (invalid-data marker, impossible Vdd or Ta)."""


def subpage_pixels(subpage: int, chess: bool) -> np.ndarray:
    """Indices of the 384 pixels a subpage measures (chess pattern or interleaved rows)."""
    p = np.arange(PIXELS)
    il_pattern = (p // COLS) % 2
    pattern = il_pattern ^ (p % 2) if chess else il_pattern
    return np.flatnonzero(pattern == subpage)


@dataclass(frozen=True, eq=False)
class SubpagePlan:
    """Everything per pixel that does not depend on the RAM, for one (readout mode, subpage)."""

    pixels: np.ndarray          # (384,) pixel indices
    line_starts: np.ndarray     # first pixel of the rows this subpage measures (Melexis' frame-validity check)
    coef: np.ndarray            # (384, 6) offset, offset*kta, offset*kv, offset*kta*kv, il/chess term, 1
    alpha: np.ndarray           # (384,) sensitivity
    alpha3: np.ndarray          # (384,) sensitivity ** 3
    repair: tuple[tuple[int, np.ndarray], ...]   # (position of a bad pixel, positions of its neighbours)


@dataclass(frozen=True, eq=False)
class SubpageResult:
    """Temperatures of the 384 pixels one subpage measured."""

    subpage: int
    vdd: float
    ta: float
    tr: float
    emissivity: float
    pixels: np.ndarray          # (384,) pixel indices
    to: np.ndarray              # (384,) object temperature in C, bad pixels already interpolated

    def full(self) -> np.ndarray:
        """A (768,) array with this subpage's pixels and NaN elsewhere."""
        out = np.full(PIXELS, np.nan)
        out[self.pixels] = self.to
        return out


class Calculator:
    """Melexis' To algorithm for one sensor; build once per calibration, then call `subpage` per RAM read."""

    def __init__(self, calibration: Calibration) -> None:
        c = self.calibration = calibration
        self._plans: dict[tuple[bool, int], SubpagePlan] = {}
        self._bad = c.bad_pixels
        self.flagged = np.zeros((ROWS, COLS), dtype=bool)
        self.flagged.reshape(-1)[self._bad] = True
        # Scalars used per subpage, as plain Python floats (cheaper than numpy scalars).
        self._k_vdd, self._vdd25 = float(c.k_vdd), float(c.vdd25)
        self._kv_ptat, self._kt_ptat, self._v_ptat25 = c.kv_ptat, c.kt_ptat, float(c.v_ptat25)
        self._alpha_ptat, self._gain_ee = c.alpha_ptat, float(c.gain_ee)
        self._cp_offset = (float(c.cp_offset[0]), float(c.cp_offset[1]))
        self._il0 = float(c.il_chess_c[0])
        self._k1 = float(c.ks_to[1])
        # Range r factor alphaCorr[r] * (1 + KsTo[r] * (To - CT[r])) written as P[r] + Q[r] * T (T in kelvin).
        ks, ct = c.ks_to, c.ct.astype(np.float64)
        corr = np.empty(4)
        corr[0] = 1.0 / (1.0 + ks[0] * 40.0)
        corr[1] = 1.0
        corr[2] = 1.0 + ks[1] * ct[2]
        corr[3] = corr[2] * (1.0 + ks[2] * (ct[3] - ct[2]))
        self._range_q = corr * ks
        self._range_p = corr * (1.0 - ks * (ct + KELVIN))
        self._range_bounds = ct[1:] + KELVIN           # T >= bound[i] -> range > i
        self._range_pq = [(float(p), float(q)) for p, q in zip(self._range_p, self._range_q, strict=True)]

    # -- scalars ------------------------------------------------------------------------------------------

    def vdd(self, words: np.ndarray, control: int) -> float:
        resolution_ram = (control & CONTROL_RESOLUTION_MASK) >> CONTROL_RESOLUTION_SHIFT
        correction = 2.0 ** (self.calibration.resolution_ee - resolution_ram)
        return (correction * int(words[AUX_VDD_PIX]) - self._vdd25) / self._k_vdd + 3.3

    def ta(self, words: np.ndarray, control: int, vdd: float | None = None) -> float:
        if vdd is None:
            vdd = self.vdd(words, control)
        ptat = int(words[AUX_TA_PTAT])
        ptat_art = ptat / (ptat * self._alpha_ptat + int(words[AUX_TA_VBE])) * 262144.0
        return (ptat_art / (1.0 + self._kv_ptat * (vdd - 3.3)) - self._v_ptat25) / self._kt_ptat + 25.0

    # -- per-pixel ----------------------------------------------------------------------------------------

    def plan(self, chess: bool, subpage: int) -> SubpagePlan:
        key = (chess, subpage)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._build_plan(chess, subpage)
        return plan

    def _build_plan(self, chess: bool, subpage: int) -> SubpagePlan:
        c = self.calibration
        px = subpage_pixels(subpage, chess)
        offset = c.offset[px].astype(np.float64)
        kta = c.kta[px] / 2.0 ** c.kta_scale
        kv = c.kv[px] / 2.0 ** c.kv_scale
        il_pattern = (px // COLS) % 2
        conversion = ((px + 2) // 4 - (px + 3) // 4 + (px + 1) // 4 - px // 4) * (1 - 2 * il_pattern)
        il_term = c.il_chess_c[2] * (2 * il_pattern - 1) - c.il_chess_c[1] * conversion
        coef = np.stack([offset, offset * kta, offset * kv, offset * kta * kv, il_term, np.ones(px.size)], axis=1)
        alpha = SCALE_ALPHA * 2.0 ** c.alpha_scale / c.alpha[px].astype(np.float64)
        line_starts = np.arange(subpage, ROWS, 2) * COLS
        return SubpagePlan(pixels=px, line_starts=line_starts, coef=np.ascontiguousarray(coef), alpha=alpha,
                           alpha3=alpha ** 3, repair=self._repair_plan(px))

    def _repair_plan(self, px: np.ndarray) -> tuple[tuple[int, np.ndarray], ...]:
        """Bad pixels are replaced by the median of the good pixels around them that the same subpage measured
        (the 4 diagonal neighbours in chess mode, left and right in interleaved mode)."""
        position = {int(p): i for i, p in enumerate(px)}
        bad = set(int(b) for b in self._bad)
        repairs = []
        for b in sorted(bad & position.keys()):
            r, col = divmod(b, COLS)
            around = [(r + dr) * COLS + col + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                      if (dr or dc) and 0 <= r + dr < ROWS and 0 <= col + dc < COLS]
            neighbours = [position[n] for n in around if n in position and n not in bad]
            repairs.append((position[b], np.array(neighbours, dtype=np.intp)))
        return tuple(repairs)

    def check_words(self, words: np.ndarray) -> None:
        """Refuse RAM that carries the device's invalid-data marker in the words the algorithm uses."""
        for index in AUX_USED:
            if int(words[index]) & 0xFFFF == INVALID_WORD:
                raise FrameDataError(f"RAM word 0x{0x400 + index:04X} holds the invalid-data marker 0x7FFF")
        if int(words[AUX_GAIN]) == 0:
            raise FrameDataError("RAM gain word 0x070A is 0")

    def subpage(self, words: np.ndarray, subpage: int, control: int, emissivity: float = 1.0,
                reflected_c: float | None = None) -> SubpageResult:
        """Vdd, Ta and To for the pixels of `subpage` from the 832 RAM words (int16, as read from 0x0400).

        `reflected_c` None means Ta + DEFAULT_REFLECTED_OFFSET_C (Melexis' open-air rule)."""
        if words.dtype != np.int16:
            words = np.asarray(words).astype(np.int16)
        self.check_words(words)
        vdd = self.vdd(words, control)
        ta = self.ta(words, control, vdd)
        if not (VDD_RANGE[0] <= vdd <= VDD_RANGE[1] and TA_RANGE[0] <= ta <= TA_RANGE[1]):
            raise FrameDataError(f"implausible Vdd {vdd:.3f} V / Ta {ta:.2f} C: RAM read is corrupt")
        tr = ta + DEFAULT_REFLECTED_OFFSET_C if reflected_c is None else float(reflected_c)
        chess = bool(control & CONTROL_CHESS)
        plan = self.plan(chess, subpage)
        if (words[plan.line_starts] == INVALID_WORD).any():
            raise FrameDataError(f"pixel rows of subpage {subpage} hold the invalid-data marker 0x7FFF")
        c = self.calibration
        d_ta, d_v = ta - 25.0, vdd - 3.3
        gain = self._gain_ee / int(words[AUX_GAIN])
        cp_factor = (1.0 + c.cp_kta * d_ta) * (1.0 + c.cp_kv * d_v)
        mismatch = chess != c.calibration_chess
        if subpage == 0:
            cp = int(words[AUX_CP_SP0]) * gain - self._cp_offset[0] * cp_factor
        else:
            cp = int(words[AUX_CP_SP1]) * gain - (self._cp_offset[1] + (self._il0 if mismatch else 0.0)) * cp_factor
        inv_e = 1.0 / emissivity
        weights = np.array([-inv_e, -d_ta * inv_e, -d_v * inv_e, -d_ta * d_v * inv_e,
                            inv_e if mismatch else 0.0, -c.tgc * cp * inv_e])
        ta4 = (ta + KELVIN) ** 2
        ta4 *= ta4
        tr4 = (tr + KELVIN) ** 2
        tr4 *= tr4
        ta_tr = tr4 - (tr4 - ta4) * inv_e
        to = self.ir_to_to(self.raw_to_ir(plan, words, gain * inv_e, weights), plan, 1.0 + c.ks_ta * d_ta, ta_tr)
        for position, neighbours in plan.repair:
            to[position] = np.median(to[neighbours]) if neighbours.size else np.nan
        return SubpageResult(subpage, vdd, ta, tr, emissivity, plan.pixels, to)

    @staticmethod
    def raw_to_ir(plan: SubpagePlan, words: np.ndarray, gain: float, weights: np.ndarray) -> np.ndarray:
        """Compensated IR signal (already divided by emissivity) of the plan's pixels."""
        ir = plan.coef @ weights
        ir += words[plan.pixels] * gain
        return ir

    def ir_to_to(self, ir: np.ndarray, plan: SubpagePlan, ks_ta_factor: float, ta_tr: float) -> np.ndarray:
        """Object temperature in C from the compensated IR signal (both To passes of Melexis' algorithm)."""
        s, k1 = ks_ta_factor, self._k1
        alpha = plan.alpha
        q = alpha * (s * ta_tr)
        q += ir
        q *= plan.alpha3
        np.sqrt(q, out=q)
        np.sqrt(q, out=q)
        q *= k1 * s ** 0.75                                # Sx
        t = alpha * (s * (1.0 - k1 * KELVIN))
        t += q
        np.divide(ir, t, out=t)
        t += ta_tr
        np.sqrt(t, out=t)
        np.sqrt(t, out=t)                                   # first-pass To in kelvin
        lo, hi = t.min(), t.max()
        bounds = self._range_bounds
        r_lo = int(np.searchsorted(bounds, lo, side="right"))
        if r_lo == int(np.searchsorted(bounds, hi, side="right")):
            p, qr = self._range_pq[r_lo]
            t *= qr * s
            t += p * s
        else:
            r = np.searchsorted(bounds, t, side="right")
            t *= self._range_q[r]
            t += self._range_p[r]
            t *= s
        t *= alpha
        np.divide(ir, t, out=t)
        t += ta_tr
        np.sqrt(t, out=t)
        np.sqrt(t, out=t)
        t -= KELVIN
        return t

