"""Stream payload layouts shared by the blocks."""

from amaranth.lib import data


def tile_vector(element_shape, length):
    """A vector beat of a tile: ``data`` (``length`` elements), ``first`` and ``last`` markers."""
    return data.StructLayout({
        "data": data.ArrayLayout(element_shape, length),
        "first": 1,
        "last": 1,
    })
