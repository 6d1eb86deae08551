"""Stream payload layouts shared by the blocks."""

from amaranth.lib import data


def tile_vector(element_shape, length):
    """A vector beat of a tile: ``data`` (``length`` elements), ``first`` and ``last`` markers."""
    return data.StructLayout({
        "data": data.ArrayLayout(element_shape, length),
        "first": 1,
        "last": 1,
    })


def map_beat(m_tile, lanes):
    """``lanes`` similarity-map entries (consecutive tokens) and the slice's ``last`` marker.

    Each entry is ``group`` (the token's unique-vector index within the K-slice) and ``zero``
    (the token's vector is all-zero: nothing to add).
    """
    entry = data.StructLayout({"group": range(max(m_tile, 2)), "zero": 1})
    return data.StructLayout({"entries": data.ArrayLayout(entry, lanes), "last": 1})
