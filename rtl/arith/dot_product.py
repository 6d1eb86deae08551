"""Dot product of two operand vectors in an arithmetic format's accumulator."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..parameters import check_int


class DotProduct(wiring.Component):
    """``sum_i a[i] * b[i]`` with the format's multiplier and a balanced adder tree.

    The summation order is fixed: level 0 holds the ``length`` products in element order;
    every level adds neighbours ``(0, 1), (2, 3), ...`` and delays an odd last term by one
    adder latency, until one term is left (``golden.sic.dot_products`` is bit-exact).

    Parameters
    ----------
    fmt : ArithmeticFormat
        Operand/accumulator format (``rtl.arith``): int8 gives exact int32 sums, fp16 exact
        fp32 products and fp32 round-to-nearest-even additions.
    length : int
        Elements per vector.

    Ports
    -----
    en : In(1)
        Pipeline advance: every register moves only while it is high.
    a, b : In(ArrayLayout(operand, length))
        The vectors, sampled on advancing cycles.
    result : Out(accumulator)
        The dot product of the vectors presented :attr:`latency` advancing cycles earlier.

    Throughput one dot product per advancing cycle.
    """

    def __init__(self, fmt, *, length):
        check_int("DotProduct", "length", length)
        self.fmt = fmt
        self.length = length
        vector = data.ArrayLayout(fmt.operand_shape, length)
        super().__init__({
            "en": In(1),
            "a": In(vector),
            "b": In(vector),
            "result": Out(fmt.accumulator_shape),
        })

    @staticmethod
    def latency_of(fmt, length):
        """:attr:`latency` of a unit for ``fmt`` and ``length`` (without building one)."""
        return fmt.mul_latency + (length - 1).bit_length() * fmt.add_latency

    @property
    def latency(self):
        """Advancing cycles from the operands to :attr:`result`."""
        return self.latency_of(self.fmt, self.length)

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        terms = [fmt.multiply(m, self.a[i], self.b[i], self.en) for i in range(self.length)]
        level = 0
        while len(terms) > 1:
            paired = [fmt.add(m, terms[i], terms[i + 1], self.en)
                      for i in range(0, len(terms) - 1, 2)]
            if len(terms) % 2:
                carry = terms[-1]
                for stage in range(fmt.add_latency):
                    delayed = Signal(fmt.accumulator_shape, name=f"carry_l{level}_d{stage}")
                    with m.If(self.en):
                        m.d.sync += delayed.eq(carry)
                    carry = delayed
                paired.append(carry)
            terms = paired
            level += 1
        m.d.comb += self.result.eq(terms[0])
        return m
