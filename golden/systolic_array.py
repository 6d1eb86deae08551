"""Bit-exact model of ``rtl.systolic_array.SystolicArray``."""

import numpy as np


def fold(arith, weights, acts):
    """Partial sums of one fold.

    Parameters
    ----------
    arith : golden.arith.NumberFormat
    weights : array (rows, cols)
        The weight tile.
    acts : array (p, rows)
        The fold's activation vectors.

    Returns
    -------
    array (p, cols)
        ``sum_k acts[:, k] * weights[k, :]``, accumulated in the hardware's order: starting
        from the format's zero, row 0 first, one rounding per addition.
    """
    weights = np.asarray(weights)
    acts = np.asarray(acts)
    if acts.ndim != 2 or weights.ndim != 2 or acts.shape[1] != weights.shape[0]:
        raise ValueError(f"fold: acts {acts.shape} and weights {weights.shape} do not chain")
    total = np.full((acts.shape[0], weights.shape[1]), arith.accumulator_zero,
                    dtype=arith.multiply(acts[:1, :1], weights[:1, :1]).dtype)
    for k in range(weights.shape[0]):
        total = arith.add(total, arith.multiply(acts[:, k, None], weights[None, k, :]))
    return total


def systolic_array(arith, tiles, folds):
    """Outputs for a sequence of folds, fold ``i`` using weight tile ``i``."""
    if len(tiles) != len(folds):
        raise ValueError(f"{len(tiles)} weight tiles for {len(folds)} folds")
    return [fold(arith, w, a) for w, a in zip(tiles, folds)]
