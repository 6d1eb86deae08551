"""Two's-complement INT8 x INT8 products accumulated in INT32."""

from amaranth.hdl import Signal, signed

from .format import ArithmeticFormat
from .requantizer import Requantizer


class Int8Format(ArithmeticFormat):
    """INT8 operands, INT32 accumulators (wrap-around, which K < 131072 never reaches).

    The product is combinational (``mul_latency = 0``); the sum is registered
    (``add_latency = 1``), so a PE is one multiply-accumulate register.
    """

    name = "int8"
    operand_shape = signed(8)
    accumulator_shape = signed(32)
    accumulator_zero = 0
    mul_latency = 0
    add_latency = 1
    output_shape = signed(8)
    output_latency = Requantizer.latency

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
