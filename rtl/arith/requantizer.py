"""INT32 -> INT8 output requantization by a runtime (multiplier, shift) pair."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

MULTIPLIER_BITS = 16
SHIFT_BITS = 6


class Requantizer(wiring.Component):
    """``result = saturate_int8(round_half_even(a * multiplier / 2**shift))``.

    Ports
    -----
    en : In(1)
        Clock enable of both pipeline registers.
    a : In(signed(32))
        Accumulator value.
    multiplier : In(unsigned(16)), shift : In(unsigned(6))
        Runtime scale ``multiplier / 2**shift`` (shift 0 .. 63).
    result : Out(signed(8))
        Requantized value, saturated to [-128, 127], ``latency`` = 2 enabled ticks after ``a``.

    Structure: (1) the exact 48-bit signed product, registered; (2) arithmetic shift right,
    round half to even on the discarded bits, saturate, registered. One value per tick.
    """

    latency = 2

    def __init__(self):
        super().__init__({
            "en": In(1),
            "a": In(signed(32)),
            "multiplier": In(unsigned(MULTIPLIER_BITS)),
            "shift": In(unsigned(SHIFT_BITS)),
            "result": Out(signed(8)),
        })

    def elaborate(self, platform):
        m = Module()
        product = Signal(signed(32 + MULTIPLIER_BITS + 1))
        shift = Signal.like(self.shift)
        with m.If(self.en):
            m.d.sync += [product.eq(self.a * self.multiplier), shift.eq(self.shift)]

        quotient = Signal(signed(len(product)))      # floor(product / 2**shift)
        extended = Signal(signed(64))                # sign-extended to the largest shift
        remainder = Signal(unsigned(64))             # product mod 2**shift
        half = Signal(unsigned(64))
        m.d.comb += [
            quotient.eq(product >> shift),
            extended.eq(product),
            remainder.eq(extended.as_unsigned() & ((1 << shift) - 1)),
            half.eq(Mux(shift == 0, 0, 1 << (shift - 1)[:SHIFT_BITS])),
        ]
        round_up = (shift != 0) & ((remainder > half) | ((remainder == half) & quotient[0]))
        rounded = Signal(signed(len(product) + 1))
        m.d.comb += rounded.eq(quotient + round_up)
        with m.If(self.en):
            m.d.sync += self.result.eq(Mux(rounded > 127, 127,
                                           Mux(rounded < -128, -128, rounded)))
        return m
