"""IEEE 754 binary32 adder, round to nearest even."""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_common import Pipeline, check_latency, leading_zeros, unpack, wire

FP32_NAN = 0x7FC00000
FP32_INF = 0x7F800000


class Fp32Adder(wiring.Component):
    """``sum = a + b`` for binary32 ``a``, ``b``, rounded to nearest, ties to even.

    Full IEEE 754 behaviour: subnormal operands and results (no flush to zero), overflow to
    infinity, infinities propagate, ``inf - inf`` and NaN operands give the canonical NaN
    ``0x7FC00000``, and an exact zero sum is ``+0`` unless both addends are ``-0``.

    Structure (single path, 3 extra bits: guard, round and sticky):

    1. *align*: decode, order the operands by magnitude (comparing the raw bits), and
       shift the smaller significand right by the exponent difference; the bits shifted
       out collapse into the sticky bit.
    2. *add*: add or subtract the 27-bit aligned significands (the larger minus the
       smaller is never negative).
    3. *round*: count the leading zeros, normalise (one bit right after a carry; left by
       the leading-zero count after a cancellation, but never below the smallest exponent,
       which yields a subnormal), round to nearest even on the guard/round/sticky bits, and
       pack; a carry out of the rounded significand moves into the exponent, up to infinity.

    Parameters
    ----------
    latency : int
        Pipeline depth, 1, 2 or 3 (default 2). 1 registers the output only; 2 adds a
        register after the add (steps 1-2 | step 3, about equal delays); 3 also registers
        the aligned operands.

    Attributes
    ----------
    latency : int
        Ticks of ``en`` from addends to their sum.

    Ports
    -----
    en : In(1)
        Clock enable: every pipeline register advances only on ticks where it is high.
    a, b : In(32)
        binary32 addends (raw bits).
    sum : Out(32)
        binary32 sum (raw bits) of the addends presented ``latency`` enabled ticks earlier.

    Throughput: one sum per enabled tick.
    """

    CUTS = {1: ("result",), 2: ("added", "result"), 3: ("aligned", "added", "result")}

    def __init__(self, *, latency=2):
        self._cuts = check_latency("Fp32Adder", latency, self.CUTS)
        self.latency = latency
        super().__init__({
            "en": In(1),
            "a": In(32),
            "b": In(32),
            "sum": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.en, self._cuts)

        # --- step 1: order by magnitude and align ------------------------------------------
        # IEEE magnitudes order like their bit patterns. Both operands are decoded, and each
        # is aligned to the other (shifted right by the exponent difference, the bits
        # shifted out collapsing into a sticky bit) while the magnitudes are compared; the
        # comparison then only selects which one is the big operand and which the aligned
        # small one.
        a_is_big = wire(m, self.a[:31] >= self.b[:31], "a_is_big")
        a = unpack(m, self.a, exponent_bits=8, fraction_bits=23, name="a")
        b = unpack(m, self.b, exponent_bits=8, fraction_bits=23, name="b")
        big, small = (SimpleNamespace(**{key: wire(m, Mux(a_is_big, first, second),
                                                  f"{name}_{key}")
                                         for key, first, second in (
                                             (k, getattr(x, k), getattr(y, k))
                                             for k in vars(a))})
                      for name, x, y in (("big", a, b), ("small", b, a)))

        def aligned(x, y, name):
            """``x``'s significand with guard/round/sticky bits, shifted right by
            ``y.exponent - x.exponent`` (meaningful when that is not negative)."""
            difference = y.exponent - x.exponent
            distance = wire(m, Mux(difference > 31, 31, difference)[:5], f"{name}_distance")
            grs = wire(m, Cat(Const(0, 3), x.significand), f"{name}_grs")    # 27 bits
            lost = wire(m, (grs & ((Const(1, 1) << distance) - 1)[:27]) != 0, f"{name}_lost")
            shifted = wire(m, (grs >> distance)[:27], f"{name}_shifted")    # >= 27 clears
            return Cat(shifted[0] | lost, shifted[1:])                       # sticky in bit 0
        small_aligned = wire(m, Mux(a_is_big, aligned(b, a, "b_aligned"),
                                    aligned(a, b, "a_aligned")), "small_aligned")
        s1 = pipe.cut(
            "aligned",
            big=Cat(Const(0, 3), big.significand),
            small=small_aligned,
            subtract=big.sign ^ small.sign,
            sign=big.sign,
            exponent=big.exponent,
            zero_sign=big.sign & small.sign,
            inf=big.inf | small.inf,
            invalid=big.nan | small.nan | (big.inf & small.inf & (big.sign ^ small.sign)),
        )

        # --- step 2: add or subtract ------------------------------------------------------
        # One adder: big + (small ^ mask) + subtract, the carry-in entering through an extra
        # low bit (1 + 1 carries exactly ``subtract``); a subtraction's borrow is dropped.
        inverted = s1.small ^ Mux(s1.subtract, (1 << 27) - 1, 0)
        raw = wire(m, (Cat(s1.subtract, s1.big) + Cat(s1.subtract, inverted))[1:], "raw")
        total = wire(m, Mux(s1.subtract, raw[:27], raw[:28]), "total")     # 28 bits
        s2 = pipe.cut(
            "added",
            total=total,
            sign=s1.sign,
            exponent=s1.exponent,
            zero_sign=s1.zero_sign,
            inf=s1.inf,
            invalid=s1.invalid,
        )

        # --- step 3: normalise, round, pack -----------------------------------------------
        carry = s2.total[27]
        # Left shift for cancellation, limited so the exponent stays >= 1 (subnormal): a
        # sentinel one at bit 27 - exponent (none for exponents above 27) stops the
        # leading-zero count there, so the count is already min(zeros, exponent - 1), with no
        # compare after it; the sentinel is a decode of the exponent register.
        sentinel = wire(m, (Const(1 << 27, 28) >> s2.exponent)[:27], "sentinel")
        left = wire(m, leading_zeros(wire(m, s2.total[:27] | sentinel, "limited"), m,
                                     "zeros")[:5], "left")       # 27 when total is 0
        normalized = wire(m, Mux(carry,
                                 Cat(s2.total[0] | s2.total[1], s2.total[2:28]),
                                 (s2.total[:27] << left)[:27]),
                          "normalized")                              # 24 bits + G R S
        exponent = wire(m, Mux(carry, s2.exponent + 1, s2.exponent - left)[:9],
                        "exponent")                                  # 1 .. 255
        guard = normalized[2]
        round_up = wire(m, guard & (normalized[1] | normalized[0] | normalized[3]),
                        "round_up")
        # The encoding: fraction, and the exponent as the field when the hidden bit is set
        # (subnormal results have exponent 1 and field 0). Rounding up is one increment of
        # that pattern, computed beside it and selected by round_up: a carry out of the
        # fraction moves into the field (subnormal -> normal, next binade, up to infinity).
        plain = wire(m, Cat(normalized[3:26], Mux(normalized[26], exponent[:8], 0)), "plain")
        bumped = wire(m, plain + 1, "bumped")                        # 32 bits
        packed = wire(m, Mux(round_up, bumped, plain), "packed")
        overflow = Mux(round_up, bumped[31] | (bumped[23:31] == 0xFF), plain[23:31] == 0xFF)
        magnitude = Mux(overflow, FP32_INF, packed[:31])[:31]
        result = Mux(s2.invalid, FP32_NAN,
                     Mux(s2.inf, Cat(Const(FP32_INF, 31), s2.sign),
                         Mux(s2.total == 0, Cat(Const(0, 31), s2.zero_sign),
                             Cat(magnitude, s2.sign))))
        out = pipe.cut("result", sum=result)
        m.d.comb += self.sum.eq(out.sum)
        return m
