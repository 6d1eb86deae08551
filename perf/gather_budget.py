"""Does the SIC gather stay hidden behind the array? Cycles per key a layer gives the gather.

A concentrated linear GEMM produces an output tile (``m`` retained tokens x one ``cols``-wide
N-slice) while the array streams the ``u_k`` unique vectors of each of its ``K / rows``
K-slices; the gather then concentrates that tile at ``G`` cycles per key (one key per
retained token) plus a per-tile flush, overlapping the next tile's compute (the engine's tile
buffer, :mod:`perf.engine_model`). It is hidden when ``G m + flush <= c`` for the next tile's
compute time ``c``. Two views of ``c``:

``array``   ``sum_k max(u_k, min_period)``: the array alone (what the gather must hide behind
            whatever the scatter accumulator does; it does not depend on ``scatter_lanes``);
``engine``  ``sum_k max(u_k, min_period, ceil(m / scatter_lanes))``: with the scatter
            accumulator's cost per slice, as our engine runs.

For every gathered GEMM input of a case (the linear layers; attention's S V is gathered too,
with K = the sequence length, far above these budgets) and a list of gather designs
``(label, G, flush)``, :func:`budget_table` reports the cycles per key the tiles give
(minimum and 5th percentile over tiles, per view) and, per design, the gather's stall cycles
as a share of the GEMM's compute, using the same overlap as the engine model
(``sum_i max(0, g_(i-1) - c_i) + g_last``).
"""

from __future__ import annotations

import numpy as np

from .workload import Case

__all__ = ["tile_compute", "gather_stall", "budget_table"]


def tile_compute(tile_tokens, unique, *, min_period, lanes=None):
    """Compute cycles of every output tile: ``sum_k max(u_k, min_period[, ceil(m/lanes)])``.

    ``unique`` has shape (tiles, K-slices); a K-slice without unique vectors is skipped by the
    engine (no fold), as in :class:`perf.engine_model.EngineModel`.
    """
    tile_tokens = np.asarray(tile_tokens, dtype=np.float64)
    unique = np.asarray(unique, dtype=np.float64)
    period = np.where(unique > 0, np.maximum(unique, min_period), 0.0)
    if lanes is not None:
        period = np.maximum(period, np.ceil(tile_tokens / lanes)[:, None])
    return period.sum(axis=1)


def gather_stall(tile_tokens, compute, key_interval, flush):
    """Cycles the engine waits for a gather of ``key_interval`` cycles per key (+ ``flush``
    per tile), tiles back to back; the last tile's gather is not counted (it overlaps the
    next GEMM's first tile in a pipelined layer sequence)."""
    gather = key_interval * np.asarray(tile_tokens, dtype=np.float64) + flush
    return float(np.maximum(0.0, gather[:-1] - np.asarray(compute)[1:]).sum())


def budget_table(case: Case, profile, *, rows: int, min_period: float, lanes: int,
                 designs, in_features=None):
    """Rows of the budget analysis for ``case`` with sparsity ``profile``.

    Parameters
    ----------
    designs : list of (label, key_interval, flush)
    in_features : set of int, optional
        Only GEMMs with these K (default: all linear GEMMs).

    Returns
    -------
    list of dict
        One row per linear GEMM name of the model (all blocks pooled): ``gemm``, ``K``,
        ``tiles``, ``per_key`` (``{view: (minimum, 5th percentile)}`` of compute / tokens),
        ``stall`` (``{label: {view: stalled share of compute}}``).
    """
    model = case.model
    rows_out = []
    for gemm in model.gemms():
        if gemm.kind != "linear" or (in_features and gemm.in_features not in in_features):
            continue
        slices = -(-gemm.out_features // rows)      # N-slices: output tiles per m-tile
        per_key = {"array": [], "engine": []}
        compute_total = {"array": 0.0, "engine": 0.0}
        stall = {label: {"array": 0.0, "engine": 0.0} for label, _, _ in designs}
        tiles = 0
        for item in profile.inputs[gemm.input]:
            tokens = item.tile_tokens
            views = {"array": tile_compute(tokens, item.unique, min_period=min_period),
                     "engine": tile_compute(tokens, item.unique, min_period=min_period,
                                            lanes=lanes)}
            # m-tile by m-tile, every N-slice in turn (the engine model's order)
            tokens_run = np.repeat(tokens, slices)
            for view, compute in views.items():
                per_key[view].append(compute / np.maximum(tokens, 1))
                run = np.repeat(compute, slices)
                compute_total[view] += float(run.sum())
                for label, interval, flush in designs:
                    stall[label][view] += gather_stall(tokens_run, run, interval, flush)
            tiles += tokens.size
        summary = {view: (float(np.min(np.concatenate(values))),
                          float(np.percentile(np.concatenate(values), 5)))
                   for view, values in per_key.items()}
        rows_out.append({
            "gemm": gemm.name, "K": gemm.in_features, "tiles": tiles, "per_key": summary,
            "stall": {label: {view: stall[label][view] / compute_total[view]
                              for view in compute_total} for label in stall},
        })
    return rows_out
