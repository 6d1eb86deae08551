"""Bit-exact model of ``rtl.focus_engine.FocusEngine``: array, scatter, output conversion,
output gather."""

import dataclasses

import numpy as np

from golden import sic
from golden.scatter import scatter_tile
from golden.systolic_array import fold


def engine_accumulators(arith, tiles, uniques, maps):
    """One output tile before the output conversion: the array's folds of every K-slice,
    scattered into the token rows (the accumulator format's raw values).

    Parameters are those of :func:`engine_tile`.
    """
    psums = [fold(arith, w, a) for w, a in zip(tiles, uniques)]
    return scatter_tile(arith, psums, maps)


def engine_tile(arith, tiles, uniques, maps, *, scale=None):
    """One output tile.

    Parameters
    ----------
    arith : golden.arith.NumberFormat
        The number format.
    tiles : list of arrays (rows, cols)
        The weight tile of every K-slice.
    uniques : list of arrays (U_k, rows)
        The unique input vectors of every K-slice (the array's folds).
    maps : list of int arrays (tokens,)
        Every token's unique-vector index per slice, or ``ZERO``.
    scale : dict, optional
        The runtime output scale, keyed by ``arith.scale_ports`` (none: the format's
        default; formats without a scale take none).

    Returns
    -------
    array (tokens, cols) of output-format raw values.
    """
    return arith.convert_output(engine_accumulators(arith, tiles, uniques, maps),
                                **(scale or {}))


@dataclasses.dataclass
class EngineOutput:
    """What the engine emits for one tile: unique output vectors and the map (dense: every
    row, and no map)."""
    unique: np.ndarray
    map: np.ndarray


def engine_output(arith, tiles, uniques, maps, *, scale=None, dense=False, positions=None,
                  window=(2, 2, 2), m_tile=1024, frame_stride=None, row_stride=None,
                  theta2=None):
    """One output tile as the engine emits it: :func:`engine_tile`, then (concentrated mode)
    the SIC gather of the converted rows (``golden.sic.gather``, one tile of all tokens, V =
    the output width) with the tokens' original ``positions`` and the gather registers."""
    rows = engine_tile(arith, tiles, uniques, maps, scale=scale)
    if dense:
        return EngineOutput(rows, np.zeros(0, dtype=np.int64))
    (tile,) = sic.gather(arith, rows, positions, window=window, m_tile=m_tile,
                         frame_stride=frame_stride, row_stride=row_stride, theta2=theta2,
                         tile_length=len(rows))
    return EngineOutput(np.asarray(tile.unique), np.asarray(tile.map))
