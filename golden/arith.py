"""Bit-exact NumPy models of the arithmetic formats of ``rtl.arith``.

Every model works on the raw hardware values the RTL sees: for ``int8`` plain signed
integers, for floating-point formats the IEEE bit patterns as unsigned integers. Arrays are
NumPy ``int64`` / ``uint64`` so intermediate results never overflow silently.
"""

import numpy as np

from . import fp


class Int8Arith:
    """INT8 x INT8 products, INT32 two's-complement accumulation."""

    name = "int8"
    operand_width = 8
    output_width = 8
    accumulator_width = 32
    signed = True
    accumulator_zero = 0

    @staticmethod
    def multiply(a, b):
        return np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)

    @staticmethod
    def add(x, y):
        total = np.asarray(x, dtype=np.int64) + np.asarray(y, dtype=np.int64)
        return (total + (1 << 31)) % (1 << 32) - (1 << 31)

    @staticmethod
    def random_operands(rng, shape):
        """Uniform operands over the whole range."""
        return rng.integers(-128, 128, size=shape, dtype=np.int64)

    @staticmethod
    def random_accumulators(rng, shape):
        """Partial sums as a 32-row int8 fold produces them (|x| <= 32 * 2^14)."""
        return rng.integers(-(1 << 19), 1 << 19, size=shape, dtype=np.int64)

    @staticmethod
    def requantize(x, multiplier, shift):
        """INT32 -> INT8: ``x * multiplier / 2**shift``, round half to even, saturate."""
        product = np.asarray(x, dtype=np.int64) * int(multiplier)   # |.| < 2**47: exact
        if shift == 0:
            rounded = product
        else:
            quotient = product >> shift                              # floor division
            remainder = product - (quotient << shift)
            half = 1 << (shift - 1)
            up = (remainder > half) | ((remainder == half) & (quotient & 1 == 1))
            rounded = quotient + up
        return np.clip(rounded, -128, 127)

    @classmethod
    def convert_output(cls, x, *, multiplier=1, shift=0):
        """Finished accumulators to the output format (int8 requantization)."""
        return cls.requantize(x, multiplier, shift)


class Fp16Arith:
    """IEEE binary16 operands, exact binary32 products, binary32 round-to-nearest-even sums.

    Values are raw bit patterns (``uint64`` arrays); operands are masked to 16 bits, so a
    two's-complement ``-x - 1`` of a pattern is its bitwise complement.
    """

    name = "fp16"
    operand_width = 16
    accumulator_width = 32
    output_width = 16
    signed = False
    accumulator_zero = 0
    #: The largest finite binary16 number, 65504 (its complement ``-x - 1`` is -2**-14).
    extreme_operand = 0x7BFF

    @staticmethod
    def multiply(a, b):
        return fp.fp16_mul_fp32(a, b)

    @staticmethod
    def add(x, y):
        return fp.fp32_add(x, y)

    @staticmethod
    def convert_output(x, *, multiplier=1, shift=0):
        """Finished binary32 accumulators to binary16 (RNE); the int8 scale is unused."""
        return fp.fp32_to_fp16(x)

    @staticmethod
    def random_operands(rng, shape):
        """Random finite binary16 patterns that make partial sums cancel and get tiny.

        Magnitudes mix moderate normals (2**-5 .. 2**5), the smallest normals, subnormals,
        large normals and signed zeros. Along the last axis, elements ``2i+1`` are often
        the exact negative of elements ``2i``; along the first axis, slice ``2i+1`` often
        repeats slice ``2i``. With activations ``(vectors, rows)`` and weights
        ``(rows, cols)`` the two patterns meet as products ``a*w`` and ``(-a)*w`` in
        adjacent rows, so column sums cancel exactly and run through values below the
        binary16 normal range. (binary32 subnormal partial sums cannot occur: every
        product is a multiple of 2**-48.)
        """
        shape = tuple(shape)
        size = int(np.prod(shape))
        kind = rng.choice(6, size=size, p=[0.45, 0.15, 0.10, 0.10, 0.05, 0.15])
        exponent = np.select(
            [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
            [rng.integers(10, 21, size), np.zeros(size, dtype=np.int64),
             rng.integers(1, 7, size), rng.integers(21, 31, size),
             np.zeros(size, dtype=np.int64)],
            rng.integers(1, 31, size))
        fraction = np.where(kind == 4, 0, rng.integers(0, 1 << 10, size))
        sign = rng.integers(0, 2, size)
        bits = ((sign << 15) | (exponent << 10) | fraction).astype(np.uint64).reshape(shape)
        if bits.ndim and shape[-1] >= 2:
            pairs = shape[-1] // 2
            negate = rng.random(shape[:-1] + (pairs,)) < 0.3
            even = bits[..., 0:2 * pairs:2]
            bits[..., 1:2 * pairs:2] = np.where(negate, even ^ np.uint64(0x8000),
                                                bits[..., 1:2 * pairs:2])
        if bits.ndim and shape[0] >= 2:
            for i in range(0, shape[0] - 1, 2):
                if rng.random() < 0.3:
                    bits[i + 1] = bits[i]
        return bits

    @classmethod
    def random_accumulators(cls, rng, shape, rows=32):
        """binary32 partial sums as a ``rows``-row fold of :meth:`random_operands` data
        produces them (accumulated in row order, as the array does)."""
        shape = tuple(shape)
        acts = cls.random_operands(rng, shape + (rows,))
        weights = cls.random_operands(rng, (rows,) + shape)
        total = np.zeros(shape, dtype=np.uint64)
        for k in range(rows):
            total = cls.add(total, cls.multiply(acts[..., k], weights[k]))
        return total


#: dtype name -> golden arithmetic model
ARITH = {
    "int8": Int8Arith,
    "fp16": Fp16Arith,
}
