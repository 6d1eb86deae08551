"""Bit-exact model of ``rtl.focus_engine.FocusEngine``: array, scatter, output conversion."""

from golden.scatter import scatter_tile
from golden.systolic_array import fold


def engine_tile(arith, tiles, uniques, maps, *, multiplier=1, shift=0):
    """One output tile.

    Parameters
    ----------
    arith : golden arithmetic model
    tiles : list of arrays (rows, cols)
        The weight tile of every K-slice.
    uniques : list of arrays (U_k, rows)
        The unique input vectors of every K-slice (the array's folds).
    maps : list of int arrays (tokens,)
        Every token's unique-vector index per slice, or ``ZERO``.
    multiplier, shift : int
        Output scale (int8 only).

    Returns
    -------
    array (tokens, cols) of output-format raw values.
    """
    psums = [fold(arith, w, a) for w, a in zip(tiles, uniques)]
    return arith.convert_output(scatter_tile(arith, psums, maps),
                                multiplier=multiplier, shift=shift)
