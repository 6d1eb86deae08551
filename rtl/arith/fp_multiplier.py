"""IEEE 754 binary16 x binary16 multiplier with an exact binary32 product."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_common import Pipeline, check_latency, leading_zeros, unpack, wire
from .multiplier_tree import unsigned_product

FP32_NAN = 0x7FC00000


class Fp16Multiplier(wiring.Component):
    """``product = a * b`` for binary16 ``a``, ``b``, as an exact binary32 number.

    Two binary16 significands (11 bits, subnormals included) multiply to at most 22 bits and
    the product's exponent lies in [-48, 31], so every product is a normal binary32 number
    (or zero) and no rounding ever happens. Special values follow IEEE 754: a NaN operand or
    ``inf * 0`` gives the canonical NaN ``0x7FC00000``; otherwise an infinite operand gives
    an infinity; zeros carry the XOR of the signs.

    Structure: (1) decode both operands, 11 x 11 significand multiply, exponent sum and
    special-case flags; (2) leading-zero count of the 22-bit product, normalising left
    shift, exponent adjust and packing.

    Parameters
    ----------
    latency : int
        Pipeline depth, 1 or 2 (default 1). 1 registers the output only; 2 adds a register
        between the multiply and the normalisation.

    Attributes
    ----------
    latency : int
        Ticks of ``en`` from operands to their product.

    Ports
    -----
    en : In(1)
        Clock enable: every pipeline register advances only on ticks where it is high.
    a, b : In(16)
        binary16 operands (raw bits).
    product : Out(32)
        binary32 product (raw bits) of the operands presented ``latency`` enabled ticks
        earlier.

    Throughput: one product per enabled tick.
    """

    CUTS = {1: ("result",), 2: ("product", "result")}

    def __init__(self, *, latency=1):
        self._cuts = check_latency("Fp16Multiplier", latency, self.CUTS)
        self.latency = latency
        super().__init__({
            "en": In(1),
            "a": In(16),
            "b": In(16),
            "product": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.en, self._cuts)

        # --- step 1: decode, multiply significands, add exponents -------------------------
        a = unpack(m, self.a, exponent_bits=5, fraction_bits=10, name="a")
        b = unpack(m, self.b, exponent_bits=5, fraction_bits=10, name="b")
        s1 = pipe.cut(
            "product",
            sign=a.sign ^ b.sign,
            significand=unsigned_product(m, a.significand, b.significand, "mul"),  # 22 bits
            exponent_sum=a.exponent + b.exponent,               # biased: 2 .. 60
            zero=a.zero | b.zero,
            inf=a.inf | b.inf,
            invalid=a.nan | b.nan | (a.inf & b.zero) | (b.inf & a.zero),
        )

        # --- step 2: normalise and pack ---------------------------------------------------
        # value = significand * 2**(exponent_sum - 30 - 20); with the leading one at bit
        # 21 - lz the binary32 biased exponent is exponent_sum - 50 + 21 - lz + 127.
        shift = leading_zeros(s1.significand, m, "shift")
        normalized = wire(m, (s1.significand << shift)[:22], "normalized")   # 1 at bit 21
        exponent = wire(m, (s1.exponent_sum + (127 - 50 + 21) - shift)[:8], "exponent")
        finite = Cat(Const(0, 2), normalized[:21], exponent, s1.sign)
        result = Mux(s1.invalid, FP32_NAN,
                     Mux(s1.inf, Cat(Const(0, 23), Const(0xFF, 8), s1.sign),
                         Mux(s1.zero, Cat(Const(0, 31), s1.sign), finite)))
        out = pipe.cut("result", product=result)
        m.d.comb += self.product.eq(out.product)
        return m
