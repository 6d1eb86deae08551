"""Bit-exact NumPy models of the arithmetic formats of ``rtl.arith``.

Every model works on the raw hardware values the RTL sees: for ``int8`` plain signed
integers, for floating-point formats the IEEE bit patterns as unsigned integers. Arrays are
NumPy ``int64`` / ``uint64`` so intermediate results never overflow silently.
"""

import numpy as np


class Int8Arith:
    """INT8 x INT8 products, INT32 two's-complement accumulation."""

    name = "int8"
    operand_width = 8
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


#: dtype name -> golden arithmetic model
ARITH = {
    "int8": Int8Arith,
}
