"""INT32 -> INT8 output requantization by a runtime (multiplier, shift) pair."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .multiplier_tree import unsigned_product

MULTIPLIER_BITS = 16
SHIFT_BITS = 6


class Requantizer(wiring.Component):
    """``result = saturate_int8(round_half_even(a * multiplier / 2**shift))``.

    Ports
    -----
    en : In(1)
        Clock enable of every pipeline register.
    a : In(signed(32))
        Accumulator value.
    multiplier : In(unsigned(16)), shift : In(unsigned(6))
        Runtime scale ``multiplier / 2**shift`` (shift 0 .. 63).
    result : Out(signed(8))
        Requantized value, saturated to [-128, 127], ``latency`` = 3 enabled ticks after ``a``.

    Structure (each stage registered; one value per tick): (1) the product of ``a``'s low 31
    bits and the multiplier (a Dadda tree, ``multiplier_tree``), the sign's weight
    ``-2**31 * multiplier`` kept aside; (2) the exact 48-bit signed product, arithmetic shift
    right, and in parallel the round bit and the sticky OR of the bits below it; (3) round half
    to even and saturate. In one or two stages the 32 x 16 multiply sets the engine's clock
    in ``paper-int8`` (docs/area.md).
    """

    latency = 3

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

        def stage(value, name):
            registered = Signal.like(value, name=name)
            with m.If(self.en):
                m.d.sync += registered.eq(value)
            return registered

        # (1) |low 31 bits| x multiplier; the sign bit weighs -2**31.
        low = stage(unsigned_product(m, self.a[:31], self.multiplier, "low_product"),
                    "low_product")
        sign_weight = stage(Mux(self.a[31], self.multiplier, 0), "sign_weight")
        shift1 = stage(self.shift, "shift_s1")

        # (2) exact product, floor(product / 2**shift), round bit and sticky bits.
        product = Signal(signed(32 + MULTIPLIER_BITS + 1))
        m.d.comb += product.eq(low - (sign_weight << 31))
        extended = Signal(signed(64))
        m.d.comb += extended.eq(product)
        round_bit = Mux(shift1 == 0, 0, extended.as_unsigned().bit_select((shift1 - 1)[:SHIFT_BITS], 1))
        sticky_mask = Signal(unsigned(64))            # the bits below the round bit
        m.d.comb += sticky_mask.eq(Mux(shift1 == 0, 0, (1 << (shift1 - 1)[:SHIFT_BITS]) - 1))
        quotient = stage(product >> shift1, "quotient")
        half = stage(round_bit, "round_bit")
        sticky = stage((extended.as_unsigned() & sticky_mask).any(), "sticky")

        # (3) round half to even, saturate.
        round_up = half & (sticky | quotient[0])
        rounded = Signal(signed(len(quotient) + 1))
        m.d.comb += rounded.eq(quotient + round_up)
        with m.If(self.en):
            m.d.sync += self.result.eq(Mux(rounded > 127, 127,
                                           Mux(rounded < -128, -128, rounded)))
        return m
