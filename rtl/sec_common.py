"""Small circuits shared by the semantic-concentrator (SEC) blocks (their stream layouts are
in ``rtl.layouts``).

The SEC blocks rank tokens by an unsigned *importance key* whose width and sanitising the
number format defines (``ArithmeticFormat.importance_width`` / ``sanitize_importance``).
"""

from amaranth.hdl import Const, Mux


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
