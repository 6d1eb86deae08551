"""Stream layouts and small circuits shared by the semantic-concentrator (SEC) blocks.

Importance values
-----------------
The SEC blocks rank tokens by an unsigned *importance key* of :func:`importance_width` bits:

* ``fp16``: the raw IEEE binary16 bit pattern of an attention probability. For finite values
  ``>= +0`` unsigned comparison of the patterns equals numeric comparison. ``-0`` (0x8000)
  is the number zero and becomes key 0 (it ties with ``+0``). Negative numbers, infinities and
  NaNs are not probabilities: :func:`sanitize_importance` flags them and replaces them by
  key 0 (the least important value).
* ``int8``: an 8-bit *unsigned* quantized probability, UQ0.8 (``code / 256``; see
  ``golden.sec.quantize_probability``). Every code is valid.
"""

from amaranth.hdl import Cat, Const, Mux, unsigned
from amaranth.lib import data

#: configuration dtype -> width of an importance value (bits)
IMPORTANCE_WIDTHS = {"fp16": 16, "int8": 8}


def importance_width(dtype):
    """Bits of one importance value for configuration dtype ``dtype``."""
    try:
        return IMPORTANCE_WIDTHS[dtype]
    except KeyError:
        raise ValueError(f"SEC: dtype must be one of {', '.join(IMPORTANCE_WIDTHS)}, "
                         f"got {dtype!r}") from None


def check_sec_parameters(block, *, dtype=None, sort_width=None, max_tokens=None,
                         offset_bits=None):
    """Validate the SEC generator parameters that are not ``None``; raise naming ``block``."""
    if dtype is not None:
        importance_width(dtype)
    for name, value, low, high in (("sort_width", sort_width, 1, 1024),
                                   ("max_tokens", max_tokens, 1, 1 << 20),
                                   ("offset_bits", offset_bits, 2, 16)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{block}: {name} must be an integer in [{low}, {high}], "
                             f"got {value!r}")


def groups(max_tokens, sort_width):
    """Words of the importance buffer: ``ceil(max_tokens / sort_width)``."""
    return -(-max_tokens // sort_width)


def probs_beat(value_width, sort_width, max_tokens):
    """One attention-probability vector of the analyzer input.

    ``data[l]`` is the probability of image token ``group * sort_width + l`` (lanes at or past
    ``tokens`` are padding and ignored); ``tokens`` is the layer's image-token count M;
    ``last`` closes the layer.
    """
    return data.StructLayout({
        "data": data.ArrayLayout(unsigned(value_width), sort_width),
        "group": range(max(groups(max_tokens, sort_width), 2)),
        "tokens": range(max_tokens + 1),
        "last": 1,
    })


def importance_beat(value_width):
    """One token of an importance pass, in token order; ``last`` on token M - 1."""
    return data.StructLayout({"value": unsigned(value_width), "last": 1})


#: A pass request from the sorter to the analyzer: ``release = 0`` asks for one more pass over
#: the buffer, ``release = 1`` ends the layer (the analyzer clears the buffer and accepts the
#: next layer).
READ_REQUEST = data.StructLayout({"release": 1})


def index_beat(max_tokens):
    """One selected token index; ``last`` on the layer's final (largest) index."""
    return data.StructLayout({"index": range(max(max_tokens, 2)), "last": 1})


def code_beat(offset_bits):
    """One offset code (spec 2.2; 0 = escape); ``last`` on the layer's final code."""
    return data.StructLayout({"code": unsigned(offset_bits), "last": 1})


def sanitize_importance(value, dtype):
    """Return ``(key, invalid)``: the importance key of raw ``value`` and its error bit.

    Combinational. See the module docstring for the rules.
    """
    if dtype == "int8":
        return value, Const(0, 1)
    magnitude = value[:15]
    negative = value[15] & (magnitude != 0)
    not_finite = value[10:15] == 0x1F
    invalid = negative | not_finite
    return Mux(invalid, 0, Cat(magnitude, Const(0, 1))), invalid


def lowest_set_bit(bits):
    """Return ``(found, index)`` of the least significant set bit of ``bits``.

    A balanced tree of 2:1 selections (depth ``ceil(log2(len(bits)))``), combinational.
    """
    width = len(bits)
    if width == 1:
        return bits[0], Const(0, 1)
    half = 1 << ((width - 1).bit_length() - 1)
    low_found, low_index = lowest_set_bit(bits[:half])
    high_found, high_index = lowest_set_bit(bits[half:])
    index_width = (width - 1).bit_length()
    index = Mux(low_found, low_index, high_index + half)
    return low_found | high_found, index[:index_width]
