"""Stream layouts and small circuits shared by the semantic-concentrator (SEC) blocks.

The SEC blocks rank tokens by an unsigned *importance key* whose width and sanitising the
number format defines (``ArithmeticFormat.importance_width`` / ``sanitize_importance``).
"""

from amaranth.hdl import Const, Mux, unsigned
from amaranth.lib import data

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
