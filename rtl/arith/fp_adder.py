"""IEEE 754 binary32 adder, round to nearest even."""

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
       smaller is never negative) and count the leading zeros of the result.
    3. *round*: normalise (one bit right after a carry; left by the leading-zero count
       after a cancellation, but never below the smallest exponent, which yields a
       subnormal), round to nearest even on the guard/round/sticky bits, and pack; a
       carry out of the rounded significand moves into the exponent, up to infinity.

    Parameters
    ----------
    latency : int
        Pipeline depth, 1, 2 or 3 (default 2). 1 registers the output only; 2 adds a
        register after the alignment; 3 also registers the raw sum.

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

    CUTS = {1: ("result",), 2: ("aligned", "result"), 3: ("aligned", "added", "result")}

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
        # IEEE magnitudes order like their bit patterns.
        a_is_big = wire(m, self.a[:31] >= self.b[:31], "a_is_big")
        big = unpack(m, Mux(a_is_big, self.a, self.b), exponent_bits=8, fraction_bits=23,
                     name="big")
        small = unpack(m, Mux(a_is_big, self.b, self.a), exponent_bits=8, fraction_bits=23,
                       name="small")
        difference = wire(m, big.exponent - small.exponent, "difference")    # 0 .. 253
        distance = wire(m, Mux(difference > 31, 31, difference)[:5], "distance")
        small_grs = wire(m, Cat(Const(0, 3), small.significand), "small_grs")  # 27 bits
        lost = wire(m, (small_grs & ((Const(1, 1) << distance) - 1)[:27]) != 0, "lost")
        shifted = wire(m, (small_grs >> distance)[:27], "shifted")     # >= 27 clears all
        s1 = pipe.cut(
            "aligned",
            big=Cat(Const(0, 3), big.significand),
            small=Cat(shifted[0] | lost, shifted[1:]),                # sticky in bit 0
            subtract=big.sign ^ small.sign,
            sign=big.sign,
            exponent=big.exponent,
            zero_sign=big.sign & small.sign,
            inf=big.inf | small.inf,
            invalid=big.nan | small.nan | (big.inf & small.inf & (big.sign ^ small.sign)),
        )

        # --- step 2: add or subtract ------------------------------------------------------
        # One adder: big + (small ^ mask) + subtract; a subtraction's borrow is dropped.
        raw = wire(m, s1.big + (s1.small ^ Mux(s1.subtract, (1 << 27) - 1, 0)) + s1.subtract,
                   "raw")
        total = wire(m, Mux(s1.subtract, raw[:27], raw[:28]), "total")     # 28 bits
        s2 = pipe.cut(
            "added",
            total=total,
            zeros=leading_zeros(total[:27], m, "zeros"),             # 27 when total is 0
            sign=s1.sign,
            exponent=s1.exponent,
            zero_sign=s1.zero_sign,
            inf=s1.inf,
            invalid=s1.invalid,
        )

        # --- step 3: normalise, round, pack -----------------------------------------------
        carry = s2.total[27]
        # Left shift for cancellation, limited so the exponent stays >= 1 (subnormal).
        headroom = wire(m, s2.exponent - 1, "headroom")
        left = wire(m, Mux(s2.zeros > headroom, headroom, s2.zeros)[:5], "left")
        normalized = wire(m, Mux(carry,
                                 Cat(s2.total[0] | s2.total[1], s2.total[2:28]),
                                 (s2.total[:27] << left)[:27]),
                          "normalized")                              # 24 bits + G R S
        exponent = wire(m, Mux(carry, s2.exponent + 1, s2.exponent - left)[:9],
                        "exponent")                                  # 1 .. 255
        significand = normalized[3:27]
        guard = normalized[2]
        round_up = wire(m, guard & (normalized[1] | normalized[0] | significand[0]),
                        "round_up")
        # (exponent - 1) << 23 plus a significand carrying its hidden bit is the encoding
        # (subnormal: exponent 1, hidden bit 0); the rounding carry ripples into the
        # exponent field and, from the largest binade, up to the infinity pattern.
        packed = wire(m, (((exponent - 1)[:8] << 23) + significand + round_up)[:32], "packed")
        magnitude = Mux(packed >= FP32_INF, FP32_INF, packed)[:31]
        result = Mux(s2.invalid, FP32_NAN,
                     Mux(s2.inf, Cat(Const(FP32_INF, 31), s2.sign),
                         Mux(s2.total == 0, Cat(Const(0, 31), s2.zero_sign),
                             Cat(magnitude, s2.sign))))
        out = pipe.cut("result", sum=result)
        m.d.comb += self.sum.eq(out.sum)
        return m
