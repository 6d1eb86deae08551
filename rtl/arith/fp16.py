"""IEEE binary16 operands with binary32 accumulation (the published design's format)."""

from amaranth.hdl import Cat, Const, Mux, unsigned

from .format import ArithmeticFormat
from .fp_adder import Fp32Adder
from .fp_common import check_latency
from .fp_convert import Fp32ToFp16
from .fp_multiplier import Fp16Multiplier
from .sic_numbers import Fp16SicNumbers


class Fp16Format(ArithmeticFormat):
    """binary16 x binary16 products, exact in binary32, accumulated by a binary32 adder.

    A multiply-accumulate rounds once (in the adder): the product of two binary16 numbers is
    always exactly representable in binary32. Operands and accumulators are raw IEEE bit
    patterns; the additive identity is ``+0.0`` (all zeros).

    Importance keys are the raw binary16 patterns of attention probabilities: for finite
    values ``>= +0`` unsigned comparison of the patterns is numeric comparison. ``-0`` is the
    number zero (key 0, tied with ``+0``); negative numbers, infinities and NaNs are not
    probabilities and become key 0, flagged invalid.

    Parameters
    ----------
    mul_latency : int
        Pipeline depth of :class:`~rtl.arith.fp_multiplier.Fp16Multiplier` (1 or 2,
        default 2: in one stage the weight-bank select and the multiplier set the array's
        clock, docs/area.md).
    add_latency : int
        Pipeline depth of :class:`~rtl.arith.fp_adder.Fp32Adder` (1, 2 or 3, default 2).
    """

    name = "fp16"
    operand_shape = unsigned(16)
    accumulator_shape = unsigned(32)
    accumulator_zero = 0
    output_shape = unsigned(16)
    output_latency = 1
    importance_width = 16

    def __init__(self, *, mul_latency=2, add_latency=2):
        check_latency("Fp16Multiplier", mul_latency, Fp16Multiplier.CUTS)
        check_latency("Fp32Adder", add_latency, Fp32Adder.CUTS)
        self.mul_latency = mul_latency
        self.add_latency = add_latency

    @classmethod
    def stage_choices(cls):
        return {"mul_stages": tuple(sorted(Fp16Multiplier.CUTS)),
                "add_stages": tuple(sorted(Fp32Adder.CUTS))}

    @classmethod
    def _staged(cls, mul_stages, add_stages):
        defaults = cls()
        return cls(mul_latency=mul_stages or defaults.mul_latency,
                   add_latency=add_stages or defaults.add_latency)

    def multiply(self, m, a, b, en):
        unit = Fp16Multiplier(latency=self.mul_latency)
        m.submodules[_free_name(m, "fp_mul")] = unit
        m.d.comb += [unit.en.eq(en), unit.a.eq(a), unit.b.eq(b)]
        return unit.product

    def add(self, m, a, b, en):
        unit = Fp32Adder(latency=self.add_latency)
        m.submodules[_free_name(m, "fp_add")] = unit
        m.d.comb += [unit.en.eq(en), unit.a.eq(a), unit.b.eq(b)]
        return unit.sum

    def output_converter(self):
        """binary32 -> binary16, round to nearest even (1 cycle)."""
        return Fp32ToFp16(latency=self.output_latency)

    def sic_numbers(self, *, vector_size, m_tile):
        return Fp16SicNumbers(self, vector_size=vector_size, m_tile=m_tile)

    def sanitize_importance(self, value):
        magnitude = value[:15]
        negative = value[15] & (magnitude != 0)
        not_finite = value[10:15] == 0x1F
        invalid = negative | not_finite
        return Mux(invalid, 0, Cat(magnitude, Const(0, 1))), invalid

    def __repr__(self):
        return (f"Fp16Format(mul_latency={self.mul_latency}, "
                f"add_latency={self.add_latency})")


def _free_name(m, base):
    """``base``, or ``base_1``, ``base_2``... if the module already has such a submodule."""
    name, index = base, 0
    while True:
        try:
            m.submodules[name]
        except AttributeError:
            return name
        index += 1
        name = f"{base}_{index}"
