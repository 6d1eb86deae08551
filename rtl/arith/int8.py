"""Two's-complement INT8 x INT8 products accumulated in INT32."""

from amaranth.hdl import Const, Signal, signed, unsigned

from .format import ArithmeticFormat
from .requantizer import MULTIPLIER_BITS, SHIFT_BITS, Requantizer
from .sic_numbers import Int8SicNumbers


class Int8Format(ArithmeticFormat):
    """INT8 operands, INT32 accumulators (wrap-around, which K < 131072 never reaches).

    The product is combinational (``mul_latency = 0``); the sum is registered
    (``add_latency = 1``), so a PE is one multiply-accumulate register. Outputs are
    requantized by a runtime ``multiplier / 2**shift`` scale. Importance keys are unsigned
    UQ0.8 probabilities (``code / 256``, ``golden.arith.Int8Arith.importance_codes``); every code is
    valid.
    """

    name = "int8"
    operand_shape = signed(8)
    accumulator_shape = signed(32)
    accumulator_zero = 0
    mul_latency = 0
    add_latency = 1
    output_shape = signed(8)
    output_latency = Requantizer.latency
    scale_ports = {"multiplier": unsigned(MULTIPLIER_BITS), "shift": unsigned(SHIFT_BITS)}
    importance_width = 8

    def multiply(self, m, a, b, en):
        return (a.as_signed() * b.as_signed())[:16].as_signed()

    def add(self, m, a, b, en):
        total = Signal(self.accumulator_shape)
        with m.If(en):
            m.d.sync += total.eq(a.as_signed() + b.as_signed())
        return total

    def output_converter(self):
        """INT32 -> INT8 requantization by the runtime (multiplier, shift) scale."""
        return Requantizer()

    def sic_numbers(self, *, vector_size, m_tile):
        return Int8SicNumbers(self, vector_size=vector_size, m_tile=m_tile)

    def sanitize_importance(self, value):
        return value, Const(0, 1)
