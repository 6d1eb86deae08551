"""IEEE 754 binary32 -> binary16 conversion, round to nearest even."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_common import Pipeline, check_latency, unpack, wire

FP16_NAN = 0x7E00
FP16_INF = 0x7C00

# binary32 biased exponent of the smallest binary16 normal number (2**-14).
_MIN_NORMAL_EXPONENT = 127 - 14
# ... and of the first power of two that overflows binary16 (2**16).
_OVERFLOW_EXPONENT = 127 + 16


class Fp32ToFp16(wiring.Component):
    """``result = fp16(a)``: binary32 to binary16, rounded to nearest, ties to even.

    Values beyond the binary16 range round to infinity (65520 and above, as IEEE 754
    requires: 65520 is the tie between 65504 and 2**16); values below 2**-14 become
    binary16 subnormals or, below 2**-25, zero (sign kept). A NaN gives the canonical
    ``0x7E00``; infinities keep their sign.

    Structure: (1) decode and shift the 24-bit significand right by 13 bits (normal range)
    or more (subnormal range), keeping a guard and a sticky bit; (2) round to nearest even,
    pack (a rounding carry ripples into the exponent) and select the special results.

    Parameters
    ----------
    latency : int
        Pipeline depth, 1 or 2 (default 1). 1 registers the output only; 2 adds a register
        after the shift.

    Attributes
    ----------
    latency : int
        Ticks of ``en`` from input to result.

    Ports
    -----
    en : In(1)
        Clock enable: every pipeline register advances only on ticks where it is high.
    a : In(32)
        binary32 input (raw bits).
    result : Out(16)
        binary16 result (raw bits) for the input presented ``latency`` enabled ticks
        earlier.

    Throughput: one conversion per enabled tick.
    """

    CUTS = {1: ("result",), 2: ("shifted", "result")}

    def __init__(self, *, latency=1):
        self._cuts = check_latency("Fp32ToFp16", latency, self.CUTS)
        self.latency = latency
        super().__init__({
            "en": In(1),
            "a": In(32),
            "result": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.en, self._cuts)

        # --- step 1: decode and shift to the binary16 grid --------------------------------
        x = unpack(m, self.a, exponent_bits=8, fraction_bits=23, name="x")
        normal = wire(m, x.exponent >= _MIN_NORMAL_EXPONENT, "normal")
        # Extra right shift in the subnormal range (>= 13 more bits clears everything).
        below = wire(m, _MIN_NORMAL_EXPONENT - x.exponent, "below")
        extra = Mux(normal, 0, Mux(below > 13, 13, below))[:4]
        with_guard = wire(m, Cat(Const(0, 1), x.significand), "with_guard")   # 25 bits
        distance = wire(m, 13 + extra, "distance")                   # 13 .. 26
        shifted = wire(m, (with_guard >> distance)[:12], "shifted")  # fraction.guard
        lost = (with_guard & ((Const(1, 1) << distance) - 1)[:25]) != 0
        s1 = pipe.cut(
            "shifted",
            sign=x.sign,
            significand=shifted[1:],                                  # 11 bits, hidden bit
            guard=shifted[0],
            sticky=lost,
            exponent=Mux(normal, x.exponent - _MIN_NORMAL_EXPONENT, 0)[:8],   # biased - 1
            overflow=~x.nan & (x.exponent >= _OVERFLOW_EXPONENT),     # includes infinity
            nan=x.nan,
        )

        # --- step 2: round and pack -------------------------------------------------------
        round_up = s1.guard & (s1.sticky | s1.significand[0])
        packed = wire(m, ((s1.exponent << 10) + s1.significand + round_up)[:16], "packed")
        magnitude = Mux(s1.overflow | (packed >= FP16_INF), FP16_INF, packed)[:15]
        result = Mux(s1.nan, FP16_NAN, Cat(magnitude, s1.sign))
        out = pipe.cut("result", result=result)
        m.d.comb += self.result.eq(out.result)
        return m
