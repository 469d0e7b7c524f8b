"""Melexis' algorithm run backwards: RAM words that a sensor would hold for a given temperature scene.

The forward code (`compute.Calculator`) is the oracle: the auxiliary words are chosen first, the Vdd
and Ta the driver will compute from them are taken as the truth, and each pixel's IR signal is
solved with Newton steps on the forward To function until it reproduces the target temperature.
The remaining error is the rounding of the raw words (about 0.02-0.1 C at 18 bit, larger for hot pixels).
"""
from __future__ import annotations

import numpy as np

from .compute import DEFAULT_REFLECTED_OFFSET_C, KELVIN, Calculator
from .registers import (
    AUX_CP_SP0,
    AUX_CP_SP1,
    AUX_GAIN,
    AUX_TA_PTAT,
    AUX_TA_VBE,
    AUX_VDD_PIX,
    CONTROL_CHESS,
    CONTROL_RESOLUTION_MASK,
    CONTROL_RESOLUTION_SHIFT,
    PIXELS,
    RAM_WORDS,
)

VBE_WORD = 19600        # a typical Ta_VBE reading
GAIN_DRIFT = 0.985      # RAM gain word relative to gainEE (the device's gain drifts a little from calibration)


def _int16(values: np.ndarray | float) -> np.ndarray:
    return np.clip(np.rint(values), -32768, 32767).astype(np.int16)


class RamSynthesizer:
    """Builds the 832 RAM words of one subpage measurement for a sensor with the given calibration."""

    def __init__(self, calculator: Calculator, noise_lsb: float = 0.0, seed: int = 0) -> None:
        self.calc = calculator
        self.noise_lsb = noise_lsb
        self._rng = np.random.default_rng(seed)

    def aux_words(self, words: np.ndarray, ta_c: float, vdd: float, control: int) -> None:
        """Write the Vdd, PTAT/VBE, gain and compensation-pixel words into `words` (in place)."""
        c = self.calc.calibration
        resolution_ram = (control & CONTROL_RESOLUTION_MASK) >> CONTROL_RESOLUTION_SHIFT
        correction = 2.0 ** (c.resolution_ee - resolution_ram)
        words[AUX_VDD_PIX] = _int16(((vdd - 3.3) * c.k_vdd + c.vdd25) / correction)
        vdd_q = self.calc.vdd(words, control)
        ptat_art = ((ta_c - 25.0) * c.kt_ptat + c.v_ptat25) * (1.0 + c.kv_ptat * (vdd_q - 3.3))
        words[AUX_TA_VBE] = VBE_WORD
        words[AUX_TA_PTAT] = _int16(ptat_art * VBE_WORD / (262144.0 - ptat_art * c.alpha_ptat))
        ta_q = self.calc.ta(words, control, vdd_q)
        words[AUX_GAIN] = _int16(c.gain_ee * GAIN_DRIFT / correction)
        gain = c.gain_ee / int(words[AUX_GAIN])
        cp_factor = (1.0 + c.cp_kta * (ta_q - 25.0)) * (1.0 + c.cp_kv * (vdd_q - 3.3))
        mismatch = bool(control & CONTROL_CHESS) != c.calibration_chess
        cp1_offset = c.cp_offset[1] + (c.il_chess_c[0] if mismatch else 0.0)
        words[AUX_CP_SP0] = _int16(c.cp_offset[0] * cp_factor / gain)
        words[AUX_CP_SP1] = _int16(cp1_offset * cp_factor / gain)

    def subpage_words(self, words: np.ndarray, temps_c: np.ndarray, ta_c: float, subpage: int, control: int,
                      emissivity: float, reflected_c: float | None = None, vdd: float = 3.3) -> None:
        """Update `words` (832 int16, the previous RAM content) with a measurement of `subpage`.

        The pixels of the other subpage keep their old values, as on the device."""
        if words.shape != (RAM_WORDS,) or words.dtype != np.int16:
            raise ValueError("words must be the 832-word RAM image as int16")
        self.aux_words(words, ta_c, vdd, control)
        calc, c = self.calc, self.calc.calibration
        vdd_q = calc.vdd(words, control)
        ta_q = calc.ta(words, control, vdd_q)
        tr = ta_q + DEFAULT_REFLECTED_OFFSET_C if reflected_c is None else reflected_c
        plan = calc.plan(bool(control & CONTROL_CHESS), subpage)
        target = np.asarray(temps_c, dtype=np.float64).reshape(PIXELS)[plan.pixels]

        # The forward pass, with the RAM-independent parts evaluated once.
        d_ta, d_v = ta_q - 25.0, vdd_q - 3.3
        gain = c.gain_ee / int(words[AUX_GAIN])
        cp_factor = (1.0 + c.cp_kta * d_ta) * (1.0 + c.cp_kv * d_v)
        mismatch = bool(control & CONTROL_CHESS) != c.calibration_chess
        cp_word = words[AUX_CP_SP0 if subpage == 0 else AUX_CP_SP1]
        cp_offset = c.cp_offset[subpage] + (c.il_chess_c[0] if (mismatch and subpage == 1) else 0.0)
        cp = int(cp_word) * gain - cp_offset * cp_factor
        inv_e = 1.0 / emissivity
        weights = np.array([-inv_e, -d_ta * inv_e, -d_v * inv_e, -d_ta * d_v * inv_e,
                            inv_e if mismatch else 0.0, -c.tgc * cp * inv_e])
        t_a4, t_r4 = (ta_q + KELVIN) ** 4, (tr + KELVIN) ** 4
        ta_tr = t_r4 - (t_r4 - t_a4) * inv_e
        s = 1.0 + c.ks_ta * d_ta

        # Newton on To(ir): dTo/dir ~ 1 / (4 T^3 aC F), F the range correction at the current To.
        t_k = target + KELVIN
        slope = 4.0 * t_k ** 3 * plan.alpha * s
        ir = (t_k ** 4 - ta_tr) * plan.alpha * s
        for _ in range(6):
            error = target - calc.ir_to_to(ir, plan, s, ta_tr)
            ir += error * slope
            if np.nanmax(np.abs(error)) < 1e-9:
                break
        raw = (ir - plan.coef @ weights) / (gain * inv_e)
        if self.noise_lsb:
            raw += self._rng.normal(0.0, self.noise_lsb, raw.shape)
        words[plan.pixels] = _int16(raw)
