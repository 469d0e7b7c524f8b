"""MLX90640 register map: addresses, sizes and the bits of the status and control registers."""
from __future__ import annotations

DEFAULT_ADDRESS = 0x33

EEPROM_START = 0x2400
EEPROM_WORDS = 832
RAM_START = 0x0400
RAM_WORDS = 832               # 768 pixel words + 64 auxiliary words (0x0400..0x073F)
PIXELS = 768
ROWS, COLS = 24, 32

STATUS_REG = 0x8000
CONTROL_REG = 0x800D

# Auxiliary RAM words the algorithm uses, as offsets into the 832-word RAM image.
AUX_TA_VBE = 768              # 0x0700
AUX_CP_SP0 = 776              # 0x0708
AUX_GAIN = 778                # 0x070A
AUX_TA_PTAT = 800             # 0x0720
AUX_CP_SP1 = 808              # 0x0728
AUX_VDD_PIX = 810             # 0x072A
AUX_USED = (AUX_TA_VBE, AUX_CP_SP0, AUX_GAIN, AUX_TA_PTAT, AUX_CP_SP1, AUX_VDD_PIX)
INVALID_WORD = 0x7FFF         # what the device returns for data that is not valid yet

# Status register (0x8000).
STATUS_SUBPAGE_MASK = 0x0007  # last measured subpage (bit 0 for the MLX90640)
STATUS_NEW_DATA = 0x0008      # a new subpage is in RAM
STATUS_OVERWRITE = 0x0010     # 1: the device may overwrite RAM before the host clears NEW_DATA
STATUS_START = 0x0020         # step mode only: start a measurement

# Control register 1 (0x800D).
CONTROL_SUBPAGE_MODE = 0x0001
CONTROL_REFRESH_SHIFT = 7
CONTROL_REFRESH_MASK = 0x0380
CONTROL_RESOLUTION_SHIFT = 10
CONTROL_RESOLUTION_MASK = 0x0C00
CONTROL_CHESS = 0x1000
CONTROL_DEFAULT = 0x1901      # chess, 18 bit, 2 Hz, subpage mode on (power-on value)

REFRESH_RATES_HZ = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)   # index = control bits 9..7


def refresh_code(hz: float) -> int:
    """The 3-bit refresh-rate code for a subpage rate in Hz (0.5..64)."""
    try:
        return REFRESH_RATES_HZ.index(float(hz))
    except ValueError:
        raise ValueError(f"refresh rate {hz} Hz is not one of {', '.join(f'{r:g}' for r in REFRESH_RATES_HZ)}") from None


def resolution_code(bits: int) -> int:
    """The 2-bit ADC resolution code for 16..19 bits."""
    if bits not in (16, 17, 18, 19):
        raise ValueError(f"ADC resolution {bits} bit is not one of 16, 17, 18, 19")
    return bits - 16


def control_word(refresh_hz: float, resolution_bits: int, chess: bool, base: int = CONTROL_DEFAULT) -> int:
    """Control register 1 with refresh rate, resolution and readout mode replaced; subpage mode on."""
    word = base & ~(CONTROL_REFRESH_MASK | CONTROL_RESOLUTION_MASK | CONTROL_CHESS)
    word |= refresh_code(refresh_hz) << CONTROL_REFRESH_SHIFT
    word |= resolution_code(resolution_bits) << CONTROL_RESOLUTION_SHIFT
    word |= CONTROL_CHESS if chess else 0
    return word | CONTROL_SUBPAGE_MODE


def refresh_hz_of(control: int) -> float:
    return REFRESH_RATES_HZ[(control & CONTROL_REFRESH_MASK) >> CONTROL_REFRESH_SHIFT]
