"""Bit-exact NumPy models of the IEEE 754 units of ``rtl.arith`` (the ``fp16`` format).

Every function takes and returns raw bit patterns (any integer array; results are
``uint64`` arrays holding binary16 or binary32 patterns) and works element-wise with NumPy
broadcasting, so a million vectors take well under a second.

The models are written from the IEEE 754 rules, not from the RTL's structure: each finite
result is first formed *exactly* as ``(-1)**sign * magnitude * 2**exponent`` with a 64-bit
integer magnitude, then rounded once by the one generic rounding routine :func:`_round_pack`
(round to nearest, ties to even; gradual underflow; overflow to infinity). The RTL instead
aligns with guard/round/sticky bits and normalises with a leading-zero count; the two
agree bit for bit, and both are checked against NumPy and Berkeley SoftFloat
(``tests/test_fp_golden.py``, ``sim_cocotb/test_fp.py``).

Conventions shared with the RTL
-------------------------------
* A NaN result is always the canonical quiet NaN with the sign bit clear
  (:data:`FP32_NAN` = ``0x7FC00000``, :data:`FP16_NAN` = ``0x7E00``); NaN payloads are not
  propagated. Invalid operations (``inf * 0``, ``inf - inf``) give the same NaN.
* An exact zero sum is ``+0`` unless both addends are ``-0`` (IEEE 754 section 6.3, for
  round-to-nearest).
* Subnormal inputs are honoured and subnormal outputs produced (no flush to zero).
"""

from dataclasses import dataclass

import numpy as np

FP16_NAN = 0x7E00
FP32_NAN = 0x7FC00000
FP16_INF = 0x7C00
FP32_INF = 0x7F800000

__all__ = ["FP16_NAN", "FP32_NAN", "FP16_INF", "FP32_INF", "BINARY16", "BINARY32",
           "fp16_mul_fp32", "fp32_add", "fp32_to_fp16", "fp16_to_fp32", "is_nan"]


@dataclass(frozen=True)
class BinaryFormat:
    """An IEEE 754 binary interchange format.

    Attributes
    ----------
    exponent_bits, fraction_bits : int
        Field widths; the significand has ``fraction_bits + 1`` bits.
    """

    exponent_bits: int
    fraction_bits: int

    @property
    def width(self):
        return 1 + self.exponent_bits + self.fraction_bits

    @property
    def bias(self):
        return (1 << (self.exponent_bits - 1)) - 1

    @property
    def emin(self):
        """Exponent of the smallest normal number (also that of every subnormal)."""
        return 1 - self.bias

    @property
    def inf(self):
        return ((1 << self.exponent_bits) - 1) << self.fraction_bits

    @property
    def nan(self):
        return self.inf | (1 << (self.fraction_bits - 1))


BINARY16 = BinaryFormat(5, 10)
BINARY32 = BinaryFormat(8, 23)


def _u64(bits):
    return np.asarray(bits).astype(np.int64).astype(np.uint64)


def _unpack(bits, fmt):
    """Fields of raw patterns ``bits`` (masked to the format's width).

    Returns ``sign, significand, exponent, is_zero, is_inf, is_nan`` where a finite value is
    ``(-1)**sign * significand * 2**exponent`` exactly (``significand`` includes the hidden
    bit of normal numbers; subnormals use the exponent of the smallest normal).
    """
    bits = _u64(bits) & np.uint64((1 << fmt.width) - 1)
    fbits = fmt.fraction_bits
    sign = (bits >> np.uint64(fmt.width - 1)).astype(np.int64)
    field = ((bits >> np.uint64(fbits)) & np.uint64((1 << fmt.exponent_bits) - 1)).astype(
        np.int64)
    fraction = bits & np.uint64((1 << fbits) - 1)
    normal = field != 0
    significand = fraction | (normal.astype(np.uint64) << np.uint64(fbits))
    exponent = np.maximum(field, 1) - fmt.bias - fbits
    all_ones = field == (1 << fmt.exponent_bits) - 1
    return (sign, significand, exponent, significand == 0,
            all_ones & (fraction == 0), all_ones & (fraction != 0))


def _bit_length(x):
    """Number of significant bits of each element of ``uint64`` array ``x`` (0 for 0)."""
    x = x.copy()
    length = np.zeros(x.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        high = (x >> np.uint64(step)) != 0
        length += np.where(high, step, 0)
        x = np.where(high, x >> np.uint64(step), x)
    return length + (x != 0)


def _round_pack(sign, magnitude, exponent, fmt):
    """Round ``(-1)**sign * magnitude * 2**exponent`` to ``fmt``, ties to even.

    ``magnitude`` is a ``uint64`` array below ``2**63``. The result keeps the sign when it
    underflows to zero and becomes infinity when it overflows.
    """
    magnitude = _u64(magnitude)
    exponent = np.asarray(exponent, dtype=np.int64)
    fbits = fmt.fraction_bits
    top = _bit_length(magnitude) - 1 + exponent               # exponent of the leading one
    quantum = np.maximum(top, fmt.emin) - fbits                # exponent of one ulp
    shift = quantum - exponent                                 # > 0: bits to round away
    left = np.clip(-shift, 0, 63).astype(np.uint64)
    right = np.clip(shift, 0, 63).astype(np.uint64)
    kept = np.where(shift <= 0, magnitude << left, magnitude >> right)
    rest = magnitude & ((np.uint64(1) << right) - np.uint64(1))
    half = np.where(right > 0, np.uint64(1) << (np.maximum(right, 1) - np.uint64(1)),
                    np.uint64(0))
    round_up = (shift > 0) & ((rest > half) | ((rest == half) & ((kept & np.uint64(1)) == 1)))
    # A shift of 64 or more leaves nothing, and the magnitude is then below half an ulp.
    gone = shift >= 64
    kept = np.where(gone, 0, kept + round_up.astype(np.uint64))
    # The biased exponent minus one, shifted into place, plus a significand that carries
    # its hidden bit, is the encoding (subnormals: 0 + fraction; a carry out of the
    # significand steps the exponent, and out of the largest binade gives infinity).
    biased_minus_one = (quantum - (fmt.emin - fbits)).astype(np.uint64)
    bits = (biased_minus_one << np.uint64(fbits)) + kept
    bits = np.where(magnitude == 0, 0, np.minimum(bits, fmt.inf))
    return bits.astype(np.uint64) | (np.asarray(sign).astype(np.uint64)
                                     << np.uint64(fmt.width - 1))


def is_nan(bits, fmt=BINARY32):
    """True where ``bits`` encodes a NaN of ``fmt``."""
    return _unpack(bits, fmt)[5]


def fp16_to_fp32(a):
    """Exact widening of binary16 patterns to binary32 patterns (NaN -> canonical NaN)."""
    sign, significand, exponent, _, inf, nan = _unpack(a, BINARY16)
    bits = _round_pack(sign, significand, exponent, BINARY32)
    bits = np.where(inf, FP32_INF | (sign.astype(np.uint64) << np.uint64(31)), bits)
    return np.where(nan, FP32_NAN, bits).astype(np.uint64)


def fp16_mul_fp32(a, b):
    """Binary32 pattern of the exact product of binary16 patterns ``a`` and ``b``.

    The product of two binary16 numbers has at most 22 significant bits and an exponent in
    [-48, 31], so it is always a normal binary32 number (or zero) and never rounds.
    """
    sa, ma, ea, za, ia, na = _unpack(a, BINARY16)
    sb, mb, eb, zb, ib, nb = _unpack(b, BINARY16)
    sign = sa ^ sb
    bits = _round_pack(sign, ma * mb, ea + eb, BINARY32)
    inf = FP32_INF | (sign.astype(np.uint64) << np.uint64(31))
    bits = np.where(ia | ib, inf, bits)
    invalid = na | nb | (ia & zb) | (ib & za)
    return np.where(invalid, FP32_NAN, bits).astype(np.uint64)


# Operands whose exponents differ by more than this are not added exactly: the smaller one
# (below 2**-14 ulp of the larger) is replaced by a sticky unit far below the rounding point.
_EXACT_SPAN = 38


def fp32_add(x, y):
    """Binary32 pattern of ``x + y`` (binary32 patterns), rounded to nearest even."""
    sx, mx, ex, zx, ix, nx = _unpack(x, BINARY32)
    sy, my, ey, zy, iy, ny = _unpack(y, BINARY32)
    vx = np.where(sx == 1, -mx.astype(np.int64), mx.astype(np.int64))
    vy = np.where(sy == 1, -my.astype(np.int64), my.astype(np.int64))
    low = np.minimum(ex, ey)
    span = np.abs(ex - ey)
    near = span <= _EXACT_SPAN
    # Exact sum on the grid of the smaller exponent (at most 24 + 38 bits).
    exact = ((vx << np.clip(ex - low, 0, _EXACT_SPAN))
             + (vy << np.clip(ey - low, 0, _EXACT_SPAN)))
    # Far apart: the larger operand scaled by 2**15 plus the sign of the smaller one, so the
    # value lies strictly between the same two rounding boundaries as the exact sum.
    x_big = ex > ey
    big = np.where(x_big, vx, vy)
    small = np.where(x_big, vy, vx)
    far = (big << 15) + np.sign(small)
    total = np.where(near, exact, far)
    exponent = np.where(near, low, np.maximum(ex, ey) - 15)
    zero_sign = sx & sy                       # an exact zero is +0 unless both were -0
    sign = np.where(total == 0, zero_sign, (total < 0).astype(np.int64))
    bits = _round_pack(sign, np.abs(total).astype(np.uint64), exponent, BINARY32)
    inf_sign = np.where(ix, sx, sy).astype(np.uint64)
    bits = np.where(ix | iy, FP32_INF | (inf_sign << np.uint64(31)), bits)
    invalid = nx | ny | (ix & iy & (sx != sy))
    return np.where(invalid, FP32_NAN, bits).astype(np.uint64)


def fp32_to_fp16(x):
    """Binary16 pattern of binary32 pattern ``x``, rounded to nearest even."""
    sign, significand, exponent, _, inf, nan = _unpack(x, BINARY32)
    bits = _round_pack(sign, significand, exponent, BINARY16)
    bits = np.where(inf, FP16_INF | (sign.astype(np.uint64) << np.uint64(15)), bits)
    return np.where(nan, FP16_NAN, bits).astype(np.uint64)
