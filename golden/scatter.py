"""Bit-exact model of ``rtl.scatter_accumulator.ScatterAccumulator``."""

import numpy as np

from golden.algorithm import ZERO  # map entry of an all-zero vector: nothing is added


def scatter_tile(arith, psums, maps):
    """Accumulate one output tile over its K-slices.

    Parameters
    ----------
    arith : golden.arith.NumberFormat
    psums : list of arrays (U_k, cols)
        Partial sums of the unique vectors of each K-slice, in the format's raw values.
    maps : list of int arrays (tokens,)
        For each slice, every token's group in ``0 .. U_k - 1`` or :data:`ZERO`.

    Returns
    -------
    array (tokens, cols)
        ``out[t] = (((zero + P_0[map_0[t]]) + P_1[map_1[t]]) + ...)`` in slice order, one
        rounding per addition, ZERO entries skipped.
    """
    if len(psums) != len(maps) or not maps:
        raise ValueError(f"{len(psums)} partial-sum slices for {len(maps)} maps")
    tokens = len(maps[0])
    cols = np.asarray(psums[0]).shape[1]
    out = np.full((tokens, cols), arith.accumulator_zero, dtype=np.asarray(psums[0]).dtype)
    for table, groups in zip(psums, maps):
        table, groups = np.asarray(table), np.asarray(groups)
        if len(groups) != tokens:
            raise ValueError("every slice maps the same tokens")
        if groups.max(initial=ZERO) >= len(table):
            raise ValueError(f"map names group {groups.max()} of a {len(table)}-entry table")
        live = groups != ZERO
        out[live] = arith.add(out[live], table[groups[live]])
    return out
