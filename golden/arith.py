"""Golden number formats: everything the models and testbenches know about an operand format.

One class per format (:class:`Int8Arith`, :class:`Fp16Arith`, both :class:`NumberFormat`)
owns, bit-exact to ``rtl.arith``:

* the array arithmetic (:meth:`~NumberFormat.multiply`, :meth:`~NumberFormat.add`) and the
  output conversion with its runtime scale (:attr:`~NumberFormat.scale_ports`,
  :meth:`~NumberFormat.convert_output`);
* the SIC number hooks (:attr:`~NumberFormat.sic`: :class:`Int8Sic`, :class:`Fp16Sic`);
* the SEC importance key (:attr:`~NumberFormat.importance_width`,
  :meth:`~NumberFormat.sanitize_importance`) and the raw codes of probabilities;
* the conversion of real values to operand patterns and back, and the format's test data
  (random and extreme operands, accumulators, weights, importance values, special values).

The models are stateless: the class itself is the format object, passed as the first
argument of the block models (``fold(arith, ...)``, ``gather(arith, ...)``...). Nothing in
``golden/`` maps a format's *name* to it; that is done once, outside (``sim_cocotb.formats``),
so a new format is one new class here.

Every model works on the raw hardware values the RTL sees: for ``int8`` plain signed
integers, for floating-point formats the IEEE bit patterns as unsigned integers. Arrays are
NumPy ``int64`` / ``uint64`` so intermediate results never overflow silently.
"""

import numpy as np

from . import fp

__all__ = ["NumberFormat", "Int8Arith", "Fp16Arith", "Int8Sic", "Fp16Sic"]


class NumberFormat:
    """The interface every golden number format implements (all members are class-level).

    Attributes
    ----------
    name : str
        The format's name (the configuration ``dtype`` of the matching ``rtl.arith`` format).
    operand_width, accumulator_width, output_width : int
        Bits of an operand, a partial sum and a converted output element.
    signed : bool
        Raw operands, accumulators and outputs are two's-complement integers (else unsigned
        bit patterns).
    accumulator_zero : int
        Raw value of the additive identity a fold starts from.
    exact_accumulation : bool
        Operands are integers and products and sums are exact (no rounding before the
        output conversion), so the plain integer matrix product of the raw operands is an
        independent reference for the accumulators.
    extreme_operand : int
        An operand of the largest magnitude; with its complement ``-x - 1`` it stresses the
        accumulator (int8: -128 and 127).
    negative_zero : int
        The pattern of -0 (the plain zero when the format has only one).
    special_operands : tuple of int
        Non-finite operand patterns (infinities, NaNs); empty when the format has none.
    scale_ports : tuple of str
        Names of the runtime output-scale registers (the ``rtl.arith`` format's
        ``scale_ports``); :meth:`convert_output` takes them as keyword arguments. Empty when
        the conversion has no scale.
    sic : type
        The SIC gather's number hooks (:class:`Int8Sic`, :class:`Fp16Sic`).
    importance_width : int
        Bits of an SEC importance key.
    importance_ties : tuple of int
        Raw importance values at the edges of the key format that tie often when drawn from
        (a test stimulus).
    invalid_importance : tuple of (str, int)
        Named raw importance values that are not probabilities (the analyzer flags them);
        empty when every raw value is a probability.
    """

    name: str
    operand_width: int
    accumulator_width: int
    output_width: int
    signed: bool
    accumulator_zero = 0
    exact_accumulation: bool
    extreme_operand: int
    negative_zero: int
    special_operands = ()
    scale_ports = ()
    sic: type
    importance_width: int
    importance_ties: tuple
    invalid_importance = ()

    # --- arithmetic ------------------------------------------------------------------------
    @staticmethod
    def multiply(a, b):
        """Products of operands, in the accumulator format."""
        raise NotImplementedError

    @staticmethod
    def add(x, y):
        """Sums of accumulators, rounded as the hardware adder rounds."""
        raise NotImplementedError

    @classmethod
    def convert_output(cls, x, **scale):
        """Finished accumulators to the output format, under the runtime scale ``scale``
        (keywords :attr:`scale_ports`)."""
        raise NotImplementedError

    @staticmethod
    def random_output_scale(rng, accumulators):
        """A random runtime scale (dict over :attr:`scale_ports`) under which converting
        ``accumulators`` rounds and saturates; ``{}`` (and no draw from ``rng``) without a
        scale."""
        raise NotImplementedError

    @staticmethod
    def fitting_output_scale(accumulators):
        """The runtime scale (dict over :attr:`scale_ports`) that maps ``accumulators`` onto
        the output range without saturating; ``{}`` without a scale."""
        raise NotImplementedError

    # --- operands --------------------------------------------------------------------------
    @staticmethod
    def to_operands(values, *, scale=None):
        """Operand patterns (``int64``) of real values. Fixed-point formats multiply by
        ``scale`` first (default: the largest magnitude maps onto the largest operand);
        floating-point formats round the values themselves and ignore ``scale``."""
        raise NotImplementedError

    @staticmethod
    def operand_values(patterns):
        """The real values (``float64``) operand patterns stand for (unscaled)."""
        raise NotImplementedError

    @staticmethod
    def random_operands(rng, shape):
        """Random operands that exercise the arithmetic."""
        raise NotImplementedError

    @staticmethod
    def random_accumulators(rng, shape):
        """Partial sums as a fold of :meth:`random_operands` data produces them."""
        raise NotImplementedError

    @staticmethod
    def extreme_operands(rng, shape):
        """Random finite operands from the edges of the format."""
        raise NotImplementedError

    @staticmethod
    def random_weights(rng, shape, *, fan_in):
        """A weight tile like a trained layer's with ``fan_in`` inputs per output."""
        raise NotImplementedError

    # --- SEC importance --------------------------------------------------------------------
    @staticmethod
    def importance_codes(probs):
        """Raw importance values (``int64``) of probabilities."""
        raise NotImplementedError

    @staticmethod
    def importance_values(raw):
        """The probabilities raw importance values stand for (NumPy numbers that order and
        tie like them)."""
        raise NotImplementedError

    @staticmethod
    def sanitize_importance(raw):
        """``(keys, invalid)``: the unsigned :attr:`importance_width`-bit key of every raw
        value, and whether it was not a probability (its key is then 0, the least
        important). Unsigned comparison of keys orders them like the probabilities."""
        raise NotImplementedError

    @staticmethod
    def random_importance(rng, shape):
        """Random raw importance values, skewed towards small probabilities."""
        raise NotImplementedError


# --------------------------------------------------------------------------------------
# SIC number hooks (the models of ``rtl.arith.sic_numbers``)
# --------------------------------------------------------------------------------------


def _objects(values):
    """Python-int object array (exact arithmetic of any width)."""
    return np.asarray(values, dtype=np.int64).astype(object)


def _bit_length(values):
    """Bit length of every element of a non-negative int64 array."""
    values = np.asarray(values, dtype=np.int64)
    length = np.zeros(values.shape, dtype=np.int64)
    rest = values.copy()
    for step in (32, 16, 8, 4, 2, 1):
        high = (rest >> step) != 0
        length += np.where(high, step, 0)
        rest = np.where(high, rest >> step, rest)
    return length + (rest != 0)


def _rne_divide(numerator, divisor):
    """``numerator / divisor`` rounded to the nearest integer, ties to even (int64 >= 0)."""
    quotient, remainder = np.divmod(numerator, divisor)
    twice = 2 * remainder
    up = (twice > divisor) | ((twice == divisor) & ((quotient & 1) == 1))
    return quotient + up


class Int8Sic:
    """int8 operands, int32 dot products: everything is exact integer arithmetic."""

    #: An element value that makes a vector filled with it an invalid candidate: 0 (an
    #: all-zero vector is never a candidate).
    invalid_candidate = 0

    @staticmethod
    def zero(vectors):
        return np.all(vectors == 0, axis=-1)

    @staticmethod
    def special(vectors):
        return np.zeros(vectors.shape[:-1], dtype=bool)

    @staticmethod
    def fixed(vectors):
        """The value of every element as an integer (the unit of the group sums)."""
        return np.asarray(vectors, dtype=np.int64)

    @staticmethod
    def fixed_limit():
        """Largest magnitude of :meth:`fixed` of one element."""
        return 128

    @staticmethod
    def decode(accumulators):
        """``(negative, significand, exponent)`` with value ``+-significand * 2**exponent``."""
        values = np.asarray(accumulators, dtype=np.int64)
        return values < 0, _objects(np.abs(values)), np.zeros(values.shape, dtype=np.int64)

    @staticmethod
    def mean(sums, counts, specials):
        """Round-half-even integer mean (always within [-128, 127])."""
        magnitude = _rne_divide(np.abs(sums), counts)
        return np.where(sums < 0, -magnitude, magnitude)


class Fp16Sic:
    """fp16 operands, fp32 dot products, fixed-point (2**-24) group sums."""

    NAN = 0x7E00
    #: An element value that makes a vector holding it an invalid candidate: +inf.
    invalid_candidate = 0x7C00

    @staticmethod
    def _fields(vectors):
        bits = np.asarray(vectors, dtype=np.int64) & 0xFFFF
        return bits >> 15, (bits >> 10) & 0x1F, bits & 0x3FF

    @classmethod
    def zero(cls, vectors):
        return np.all((np.asarray(vectors, dtype=np.int64) & 0x7FFF) == 0, axis=-1)

    @classmethod
    def special(cls, vectors):
        return np.any(cls._fields(vectors)[1] == 31, axis=-1)

    @classmethod
    def fixed(cls, vectors):
        """Every finite element as an exact integer multiple of 2**-24 (a 41-bit value)."""
        sign, field, fraction = cls._fields(vectors)
        magnitude = np.where(field == 0, fraction,
                             (fraction | 0x400) << np.maximum(field - 1, 0))
        return np.where(sign == 1, -magnitude, magnitude)

    @staticmethod
    def fixed_limit():
        return 0x7FF << 29  # 65504 * 2**24

    @staticmethod
    def decode(accumulators):
        bits = np.asarray(accumulators, dtype=np.int64) & 0xFFFFFFFF
        field = (bits >> 23) & 0xFF
        significand = (bits & 0x7FFFFF) | np.where(field != 0, 1 << 23, 0)
        return (bits >> 31) == 1, _objects(significand), np.maximum(field, 1)

    @classmethod
    def mean(cls, sums, counts, specials):
        """Correctly rounded binary16 of ``sum * 2**-24 / count`` (specials passed through)."""
        magnitude = np.abs(sums)
        # Binade of the quotient: e = floor(log2(magnitude / count)); one ulp is 2**(e-10)
        # units, but never below one unit (binary16 subnormals have the ulp of 2**-14).
        guess = _bit_length(magnitude) - _bit_length(counts)
        guess = np.where(magnitude >= counts << np.maximum(guess, 0), guess, guess - 1)
        scale = np.maximum(guess - 10, 0)
        quotient = _rne_divide(magnitude, counts << scale)
        bits = quotient + (scale << 10)  # a carry into 2**11 steps the exponent
        bits = np.where(sums < 0, bits | 0x8000, bits)
        sign, field, fraction = cls._fields(specials)
        bits = np.where(field == 31, specials & 0xFFFF, bits)
        return np.where((field == 31) & (fraction != 0), cls.NAN, bits)


# --------------------------------------------------------------------------------------
# The formats
# --------------------------------------------------------------------------------------


class Int8Arith(NumberFormat):
    """INT8 x INT8 products, INT32 two's-complement accumulation, requantized INT8 outputs
    (runtime ``multiplier`` / ``2**shift`` scale); SEC importance keys are UQ0.8
    probability codes, all valid."""

    name = "int8"
    operand_width = 8
    output_width = 8
    accumulator_width = 32
    signed = True
    accumulator_zero = 0
    exact_accumulation = True
    extreme_operand = -128
    negative_zero = 0
    scale_ports = ("multiplier", "shift")
    sic = Int8Sic
    importance_width = 8
    importance_ties = (0, 1, 2, 255)

    @staticmethod
    def multiply(a, b):
        return np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)

    @staticmethod
    def add(x, y):
        total = np.asarray(x, dtype=np.int64) + np.asarray(y, dtype=np.int64)
        return (total + (1 << 31)) % (1 << 32) - (1 << 31)

    @staticmethod
    def requantize(x, multiplier, shift):
        """INT32 -> INT8: ``x * multiplier / 2**shift``, round half to even, saturate."""
        product = np.asarray(x, dtype=np.int64) * int(multiplier)   # |.| < 2**47: exact
        if shift == 0:
            rounded = product
        else:
            quotient = product >> shift                              # floor division
            remainder = product - (quotient << shift)
            half = 1 << (shift - 1)
            up = (remainder > half) | ((remainder == half) & (quotient & 1 == 1))
            rounded = quotient + up
        return np.clip(rounded, -128, 127)

    @classmethod
    def convert_output(cls, x, *, multiplier=1, shift=0):
        """Finished accumulators to the output format (int8 requantization)."""
        return cls.requantize(x, multiplier, shift)

    @staticmethod
    def random_output_scale(rng, accumulators):
        """A random 16-bit multiplier and the shift that maps the largest magnitude onto
        about 2**8 (twice the int8 range), so outputs round and saturate."""
        multiplier = int(rng.integers(1, 1 << 16))
        shift = max(int(np.abs(accumulators).max()) * multiplier, 1).bit_length() - 8
        return {"multiplier": multiplier, "shift": max(shift, 0)}

    @staticmethod
    def fitting_output_scale(accumulators):
        """Multiplier 1 and the smallest shift that brings every magnitude within 127."""
        return {"multiplier": 1,
                "shift": max(int(np.abs(accumulators).max()) // 127, 1).bit_length()}

    @staticmethod
    def to_operands(values, *, scale=None):
        """Symmetric quantization ``clip(rint(values * scale), -128, 127)``; ``scale``
        defaults to ``127 / max|values|``."""
        values = np.asarray(values)
        if scale is None:
            peak = float(np.max(np.abs(values))) if values.size else 0.0
            scale = 127.0 / peak if peak > 0 else 1.0
        return np.clip(np.rint(values * scale), -128, 127).astype(np.int64)

    @staticmethod
    def operand_values(patterns):
        return np.asarray(patterns).astype(np.float64)

    @staticmethod
    def random_operands(rng, shape):
        """Uniform operands over the whole range."""
        return rng.integers(-128, 128, size=shape, dtype=np.int64)

    @staticmethod
    def random_accumulators(rng, shape):
        """Partial sums as a 32-row int8 fold produces them (|x| <= 32 * 2^14)."""
        return rng.integers(-(1 << 19), 1 << 19, size=shape, dtype=np.int64)

    @staticmethod
    def extreme_operands(rng, shape):
        """Elements drawn from {-128, -127, -1, 0, 1, 127}."""
        return rng.choice(np.array([-128, -127, -1, 0, 1, 127]), size=shape)

    @classmethod
    def random_weights(cls, rng, shape, *, fan_in):
        """Uniform over the whole range (the runtime output scale absorbs the magnitude)."""
        return cls.random_operands(rng, shape)

    @staticmethod
    def importance_codes(probs):
        """UQ0.8 codes, saturating: ``q = min(255, floor(p * 256 + 1/2))`` for ``p >= 0``
        (negative values give 0). The code is monotonic in ``p``, so the ranking of codes is
        the ranking of the quantized probabilities."""
        scaled = np.floor(np.asarray(probs, dtype=np.float64) * 256.0 + 0.5)
        return np.clip(scaled, 0, 255).astype(np.int64)

    @staticmethod
    def importance_values(raw):
        """``code / 256``."""
        return (np.asarray(raw, dtype=np.int64) & 0xFF) / 256.0

    @staticmethod
    def sanitize_importance(raw):
        """Every code is a valid key."""
        raw = np.asarray(raw, dtype=np.int64)
        return raw & 0xFF, np.zeros(raw.shape, dtype=bool)

    @classmethod
    def random_importance(cls, rng, shape):
        """Codes of squared uniform probabilities."""
        return cls.importance_codes(rng.random(shape) ** 2)


class Fp16Arith(NumberFormat):
    """IEEE binary16 operands, exact binary32 products, binary32 round-to-nearest-even sums,
    binary16 outputs (no runtime scale); SEC importance keys are the binary16 patterns of
    non-negative probabilities.

    Values are raw bit patterns (``uint64`` arrays); operands are masked to 16 bits, so a
    two's-complement ``-x - 1`` of a pattern is its bitwise complement.
    """

    name = "fp16"
    operand_width = 16
    accumulator_width = 32
    output_width = 16
    signed = False
    accumulator_zero = 0
    exact_accumulation = False
    #: The largest finite binary16 number, 65504 (its complement ``-x - 1`` is -2**-14).
    extreme_operand = 0x7BFF
    negative_zero = 0x8000
    #: +inf, -inf, the canonical NaN, NaNs with payloads.
    special_operands = (0x7C00, 0xFC00, 0x7E00, 0xFE55, 0x7D01)
    sic = Fp16Sic
    importance_width = 16
    #: 0, the smallest subnormal 2**-24, 0.001, 0.25, 1/3, 1.0 and -0.
    importance_ties = tuple(int(v) for v in np.float16(
        [0.0, 2.0 ** -24, 0.001, 0.25, 1 / 3, 1.0, -0.0]).view(np.uint16))
    invalid_importance = (("NaN", 0x7E00), ("+inf", 0x7C00), ("-inf", 0xFC00),
                          ("negative", 0xB800), ("negative subnormal", 0x8001))  # -0.5, -2**-24

    @staticmethod
    def multiply(a, b):
        return fp.fp16_mul_fp32(a, b)

    @staticmethod
    def add(x, y):
        return fp.fp32_add(x, y)

    @staticmethod
    def convert_output(x):
        """Finished binary32 accumulators to binary16 (RNE); there is no runtime scale."""
        return fp.fp32_to_fp16(x)

    @staticmethod
    def random_output_scale(rng, accumulators):
        return {}

    @staticmethod
    def fitting_output_scale(accumulators):
        return {}

    @staticmethod
    def to_operands(values, *, scale=None):
        """The binary16 bit patterns of ``values`` rounded to float16 (nearest even), as
        ``int64``; ``scale`` is ignored."""
        return np.asarray(values).astype(np.float16).view(np.uint16).astype(np.int64)

    @staticmethod
    def operand_values(patterns):
        return np.asarray(patterns).astype(np.uint16).view(np.float16).astype(np.float64)

    @staticmethod
    def random_operands(rng, shape):
        """Random finite binary16 patterns that make partial sums cancel and get tiny.

        Magnitudes mix moderate normals (2**-5 .. 2**5), the smallest normals, subnormals,
        large normals and signed zeros. Along the last axis, elements ``2i+1`` are often
        the exact negative of elements ``2i``; along the first axis, slice ``2i+1`` often
        repeats slice ``2i``. With activations ``(vectors, rows)`` and weights
        ``(rows, cols)`` the two patterns meet as products ``a*w`` and ``(-a)*w`` in
        adjacent rows, so column sums cancel exactly and run through values below the
        binary16 normal range. (binary32 subnormal partial sums cannot occur: every
        product is a multiple of 2**-48.)
        """
        shape = tuple(shape)
        size = int(np.prod(shape))
        kind = rng.choice(6, size=size, p=[0.45, 0.15, 0.10, 0.10, 0.05, 0.15])
        exponent = np.select(
            [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
            [rng.integers(10, 21, size), np.zeros(size, dtype=np.int64),
             rng.integers(1, 7, size), rng.integers(21, 31, size),
             np.zeros(size, dtype=np.int64)],
            rng.integers(1, 31, size))
        fraction = np.where(kind == 4, 0, rng.integers(0, 1 << 10, size))
        sign = rng.integers(0, 2, size)
        bits = ((sign << 15) | (exponent << 10) | fraction).astype(np.uint64).reshape(shape)
        if bits.ndim and shape[-1] >= 2:
            pairs = shape[-1] // 2
            negate = rng.random(shape[:-1] + (pairs,)) < 0.3
            even = bits[..., 0:2 * pairs:2]
            bits[..., 1:2 * pairs:2] = np.where(negate, even ^ np.uint64(0x8000),
                                                bits[..., 1:2 * pairs:2])
        if bits.ndim and shape[0] >= 2:
            for i in range(0, shape[0] - 1, 2):
                if rng.random() < 0.3:
                    bits[i + 1] = bits[i]
        return bits

    @classmethod
    def random_accumulators(cls, rng, shape, rows=32):
        """binary32 partial sums as a ``rows``-row fold of :meth:`random_operands` data
        produces them (accumulated in row order, as the array does)."""
        shape = tuple(shape)
        acts = cls.random_operands(rng, shape + (rows,))
        weights = cls.random_operands(rng, (rows,) + shape)
        total = np.zeros(shape, dtype=np.uint64)
        for k in range(rows):
            total = cls.add(total, cls.multiply(acts[..., k], weights[k]))
        return total

    @classmethod
    def extreme_operands(cls, rng, shape):
        """:meth:`random_operands` (subnormals, signed zeros, the largest normals, pairs
        that cancel) as ``int64``, any non-finite pattern replaced by 1.0."""
        values = cls.random_operands(rng, shape).astype(np.int64)
        return np.where(((values >> 10) & 0x1F) == 0x1F, 0x3C00, values)

    @classmethod
    def random_weights(cls, rng, shape, *, fan_in):
        """Normal with variance ``1 / fan_in``, rounded to binary16 (random bit patterns
        would overflow most outputs to infinity)."""
        return cls.to_operands(rng.normal(0.0, fan_in ** -0.5, shape))

    @classmethod
    def importance_codes(cls, probs):
        """The binary16 patterns of the probabilities (:meth:`to_operands`)."""
        return cls.to_operands(probs)

    @staticmethod
    def importance_values(raw):
        """The binary16 numbers (``float16``)."""
        return np.asarray(raw, dtype=np.int64).astype(np.uint16).view(np.float16)

    @staticmethod
    def sanitize_importance(raw):
        """``-0`` becomes key 0; negative numbers, infinities and NaNs are invalid and become
        key 0; every other pattern is its own key."""
        raw = np.asarray(raw, dtype=np.int64) & 0xFFFF
        magnitude = raw & 0x7FFF
        invalid = ((raw >> 15 == 1) & (magnitude != 0)) | ((raw >> 10) & 0x1F == 0x1F)
        return np.where(invalid, 0, magnitude), invalid

    @classmethod
    def random_importance(cls, rng, shape):
        """Patterns of cubed uniform probabilities (many small ones, deep into the binary16
        range)."""
        return cls.importance_codes(rng.random(shape) ** 3)
