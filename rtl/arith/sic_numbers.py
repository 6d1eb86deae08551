"""Number-format hooks of the SIC gather hardware (decoding, zero tests, fixed-point sums).

The SIC blocks are written once against :class:`SicNumbers`; a format's
``ArithmeticFormat.sic_numbers`` returns its hooks. The bit-exact models are
``golden.arith.Int8Sic`` and ``golden.arith.Fp16Sic``.

Magnitudes
    A dot product or squared norm (a value of the accumulator format) is decoded into
    ``(negative, significand, exponent)`` with value ``+-significand * 2**exponent``:
    int8 accumulators are integers (exponent 0, a Python ``0``); fp32 accumulators give the
    24-bit significand with its hidden bit and the biased exponent field (1 for
    subnormals), so the bias cancels in every comparison the matcher makes.
Group sums
    Every operand element is converted to an exact signed integer (:meth:`SicNumbers.fixed`;
    fp16: units of 2**-24) so that group sums are exact.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed

__all__ = ["SicNumbers", "Int8SicNumbers", "Fp16SicNumbers"]


def _signed_width(low, high):
    """Smallest two's-complement width holding every integer in ``[low, high]``."""
    width = 1
    while not (-(1 << (width - 1)) <= low and high <= (1 << (width - 1)) - 1):
        width += 1
    return width


class SicNumbers:
    """Format hooks; see the module docstring.

    Attributes
    ----------
    fmt : ArithmeticFormat
        The operand/accumulator format.
    significand_bits : int
        Width of a decoded magnitude's significand.
    normalized_msb : int or None
        Position of the leading one of every non-zero significand (fp32: 23), or None when
        significands are plain integers (then every exponent is the constant 0).
    sum_shape : Shape
        Signed width of the exact sum of ``m_tile`` elements in :meth:`fixed` units.
    special_bits : int
        Width of an element's special-value code (fp16: infinities and NaN), 0 for int8.
    quotient_bits : int
        Quotient bits (value plus one rounding bit) the mean divider must produce.
    scaled : bool
        Means are floating point: the divider scales the divisor by the result's binade.
    """

    fmt = None
    significand_bits = 0
    normalized_msb = None
    special_bits = 0
    quotient_bits = 0
    scaled = False
    fixed_limit = 0

    def __init__(self, fmt, *, vector_size, m_tile):
        self.fmt = fmt
        self.vector_size = vector_size
        self.m_tile = m_tile
        limit = self.fixed_limit * m_tile
        self.sum_shape = signed(_signed_width(-limit, limit))

    def __repr__(self):
        return f"{type(self).__name__}({self.fmt!r}, vector_size={self.vector_size}, " \
               f"m_tile={self.m_tile})"

    def decode(self, m, accumulator):
        """``(negative, significand, exponent)`` of an accumulator value."""
        raise NotImplementedError

    def is_zero(self, vector):
        """True when every element of ``vector`` is (plus or minus) zero."""
        raise NotImplementedError

    def is_special(self, vector):
        """True when an element of ``vector`` is infinite or NaN."""
        raise NotImplementedError

    def fixed(self, m, element):
        """The element as an exact signed integer (``sum_shape`` units)."""
        raise NotImplementedError

    def special_code(self, element):
        """``special_bits`` describing a non-finite element (0 for finite ones)."""
        return Const(0, 0)

    def assemble(self, m, negative, quotient, scale, special):
        """The operand pattern of a rounded mean ``+-quotient * 2**scale`` (units)."""
        raise NotImplementedError


class Int8SicNumbers(SicNumbers):
    """int8 operands: integers throughout; means round half to even."""

    quotient_bits = 9          # 2|sum| / n <= 256
    fixed_limit = 128

    def __init__(self, fmt, *, vector_size, m_tile):
        super().__init__(fmt, vector_size=vector_size, m_tile=m_tile)
        self.significand_bits = (vector_size * 128 * 128).bit_length()

    def decode(self, m, accumulator):
        value = accumulator.as_signed()
        magnitude = Signal(self.significand_bits, name="magnitude")
        m.d.comb += magnitude.eq(Mux(value < 0, -value, value))
        return value < 0, magnitude, 0

    def is_zero(self, vector):
        return Cat(element != 0 for element in vector) == 0

    def is_special(self, vector):
        return Const(0, 1)

    def fixed(self, m, element):
        return element.as_signed()

    def assemble(self, m, negative, quotient, scale, special):
        return Mux(negative, -quotient, quotient)[:8]


class Fp16SicNumbers(SicNumbers):
    """fp16 operands, fp32 accumulators; sums in units of 2**-24 (subnormal fp16 ulp)."""

    significand_bits = 24
    normalized_msb = 23
    special_bits = 2           # 00 finite, 01 NaN, 10 +inf, 11 -inf
    quotient_bits = 12         # 11 significand bits and the rounding bit
    scaled = True
    fixed_limit = 0x7FF << 29  # 65504 * 2**24
    NAN = 0x7E00

    def decode(self, m, accumulator):
        field = accumulator[23:31]
        significand = Signal(24, name="significand")
        exponent = Signal(8, name="exponent")
        m.d.comb += [
            significand.eq(Cat(accumulator[:23], field != 0)),
            exponent.eq(Mux(field == 0, 1, field)),
        ]
        return accumulator[31], significand, exponent

    def is_zero(self, vector):
        return Cat(element[:15] != 0 for element in vector) == 0

    def is_special(self, vector):
        return Cat(element[10:15] == 0x1F for element in vector) != 0

    def fixed(self, m, element):
        field = element[10:15]
        significand = Cat(element[:10], field != 0)
        magnitude = Signal(41, name="fixed_magnitude")
        m.d.comb += magnitude.eq(Mux(field == 0, element[:10],
                                     significand << (field - 1)[:5]))
        return Mux(element[15], -magnitude, magnitude)

    def special_code(self, element):
        special = element[10:15] == 0x1F
        nan = special & (element[:10] != 0)
        infinite = special & (element[:10] == 0)
        return Cat(nan | (infinite & element[15]), infinite)

    def assemble(self, m, negative, quotient, scale, special):
        magnitude = (quotient + (scale << 10))[:15]
        finite = Cat(magnitude, negative)
        infinity = Cat(Const(0x7C00, 15), special[0])
        return Mux(special == 0b01, self.NAN, Mux(special[1], infinity, finite))
