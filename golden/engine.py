"""Bit-exact model of ``rtl.focus_engine.FocusEngine``: array, scatter, output conversion,
output gather."""

import dataclasses

import numpy as np

from golden import sic
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


@dataclasses.dataclass
class EngineOutput:
    """What the engine emits for one tile: unique output vectors and the map (dense: every
    row, and no map)."""
    unique: np.ndarray
    map: np.ndarray


def engine_output(arith, tiles, uniques, maps, *, multiplier=1, shift=0, dense=False,
                  positions=None, window=(2, 2, 2), m_tile=1024, frame_stride=None,
                  row_stride=None, theta2=None):
    """One output tile as the engine emits it: :func:`engine_tile`, then (concentrated mode)
    the SIC gather of the converted rows (``golden.sic.gather``, one tile of all tokens, V =
    the output width) with the tokens' original ``positions`` and the gather registers."""
    rows = engine_tile(arith, tiles, uniques, maps, multiplier=multiplier, shift=shift)
    if dense:
        return EngineOutput(rows, np.zeros(0, dtype=np.int64))
    (tile,) = sic.gather(rows, positions, dtype=arith.name, window=window, m_tile=m_tile,
                         frame_stride=frame_stride, row_stride=row_stride, theta2=theta2,
                         tile_length=len(rows))
    return EngineOutput(np.asarray(tile.unique), np.asarray(tile.map))
