"""The RTL-calibrated cycle model: our FocusEngine's per-tile behaviour, from a calibration table.

One GEMM is one engine run over output tiles (an m-tile of tokens x one ``cols``-wide N-slice),
m-tile by m-tile, every N-slice in turn. For an output tile of ``m`` tokens and K-slices with
fold lengths ``p_k`` (unique vectors; ``m`` in dense mode):

* the array streams a fold at ``period(p) = max(p, array_min_period)`` (double-buffered
  weights hide the reload when ``p >= reload_gap + rows - 1``; ``p = 0`` skips the fold);
* the scatter accumulator spends ``ceil(m / lanes)`` cycles per slice and overlaps the next
  fold (two slice buffers), so a slice costs ``max(period(p_k), ceil(m / lanes))``;
* a tile adds ``tile_overhead`` (mode-specific, measured);
* a gathered output tile is concentrated by the SIC gather at ``G m + flush`` cycles
  (``G`` = key interval of the configured matchers), overlapping the next tile's compute
  through the tile buffer: tile ``i`` starts when tile ``i - 1`` computed and tile ``i - 2``
  was gathered, i.e. the run costs ``sum_i max(c_i, g_(i-1)) + g_last``;
* the run adds its fill and drain (``edge_dense``, or ``edge_gathered`` for a gathered run).

Attention per head: Q K^T takes the query's unique vectors of the head's slots against every
retained key (not gathered: the scores go to softmax), S V takes every retained row of the
probabilities (identity maps) against V and gathers its output (the o_proj input is
concentrated); both are halved for causality, as in the published model, and pay one edge
each per layer. SEC: the importance analyzer (``text_tokens x heads x ceil(M / a)`` vectors at
its measured rate) overlaps the SEC layer's attention; the top-k sorter
(``golden.sec.sorter_cycles``) runs before the next GEMM and is counted as ``sec``.
"""

from __future__ import annotations

import numpy as np

from golden.sec import sorter_cycles

from .cycles import ArrayShape, Cycles
from .sparsity import InputSparsity, SecEvent
from .workload import Case, Gemm, ModelShape

__all__ = ["EngineModel"]


def _ceil(a, b):
    return -(-a // b)


class EngineModel:
    """Per-GEMM cycles of our engine.

    Parameters
    ----------
    values : dict
        The ``model`` values of a calibration table (:data:`perf.calibration.MODEL_KEYS`).
    shape : ArrayShape
        The configuration's hardware parameters.
    """

    def __init__(self, values: dict, shape: ArrayShape):
        self.values = dict(values)
        self.shape = shape
        self.min_period = float(values["array_min_period"])
        self.lanes = int(values["scatter_lanes"])
        self.key_interval = float(values["gather_key_interval"])
        self.flush = float(values["gather_flush"])

    # ------------------------------------------------------------------ one engine run

    def run(self, tile_tokens: np.ndarray, folds: np.ndarray, n_slices: int, *, focus: bool,
            gathered: bool, edge: bool = True) -> Cycles:
        """Cycles of one engine run.

        Parameters
        ----------
        tile_tokens : numpy.ndarray, shape (tiles,)
            Tokens of every m-tile.
        folds : numpy.ndarray, shape (tiles, k_slices)
            Vectors through the array per m-tile and K-slice.
        n_slices : int
            Output tiles per m-tile (N-slices).
        focus : bool
            Concentrated mode (its tile overhead) or dense mode.
        gathered : bool
            The output tiles are concentrated by the SIC gather.
        edge : bool
            Add the run's fill and drain.
        """
        model = self.values
        tile_tokens = np.asarray(tile_tokens, dtype=np.float64)
        folds = np.asarray(folds, dtype=np.float64)
        if tile_tokens.size == 0 or n_slices == 0:
            return Cycles()
        period = np.where(folds > 0, np.maximum(folds, self.min_period), 0.0)
        scatter = np.ceil(tile_tokens / self.lanes)[:, None]
        slice_time = np.maximum(period, scatter)
        overhead = model["tile_overhead_focus" if focus else "tile_overhead_dense"]
        compute_tile = slice_time.sum(axis=1) + overhead
        parts = {
            "compute": n_slices * folds.sum(),
            "reload": n_slices * (period - folds).sum(),
            "scatter": n_slices * (slice_time - period).sum(),
            "tile": n_slices * overhead * tile_tokens.size,
        }
        if gathered:
            gather = self.key_interval * tile_tokens + self.flush
            c = np.repeat(compute_tile, n_slices)
            g = np.repeat(gather, n_slices)
            parts["gather"] = np.maximum(0.0, g[:-1] - c[1:]).sum() + g[-1]
        if edge:
            parts["edge"] = model["edge_dense"]
            if gathered:
                parts["gather"] += model["edge_gathered"] - model["edge_dense"]
        return Cycles.of(n_slices * folds.sum(), **parts)

    # ------------------------------------------------------------------ layers

    def linear(self, gemm: Gemm, item: InputSparsity, *, focus: bool) -> Cycles:
        """One linear GEMM (dense mode: ``item`` is a dense input)."""
        slots = _ceil(gemm.in_features, self.shape.rows)
        if item.slots != slots:
            raise ValueError(f"GEMM {gemm.name}: input has {item.slots} slots, K = "
                             f"{gemm.in_features} needs {slots}")
        return self.run(item.tile_tokens, item.unique, _ceil(gemm.out_features, self.shape.cols),
                        focus=focus, gathered=focus)

    def attention(self, model: ModelShape, item: InputSparsity, *, focus: bool) -> Cycles:
        """Causal attention of one block; ``item`` is the query input (dense in dense mode)."""
        rows, cols = self.shape.rows, self.shape.cols
        keys = item.tokens
        head_slots = _ceil(model.head_dim, rows)
        unique = item.unique.reshape(item.unique.shape[0], model.heads, head_slots)
        qk = Cycles()
        for head in range(model.heads):
            qk = qk + self.run(item.tile_tokens, unique[:, head, :], _ceil(keys, cols),
                               focus=focus, gathered=False, edge=False)
        probabilities = np.repeat(item.tile_tokens[:, None], _ceil(keys, rows), axis=1)
        sv = self.run(item.tile_tokens, probabilities, _ceil(model.head_dim, cols),
                      focus=focus, gathered=focus, edge=False).scaled(model.heads)
        total = (qk + sv).scaled(0.5)
        calibrated = self.values
        total.parts["edge"] += 2 * calibrated["edge_dense"]  # one Q K^T run, one S V run
        if focus:
            total.parts["gather"] += calibrated["edge_gathered"] - calibrated["edge_dense"]
        return total

    def sec(self, case: Case, event: SecEvent, attention_cycles: float) -> Cycles:
        """SEC cycles of one stage not hidden behind its layer's attention."""
        a = self.shape.sort_width
        vectors = case.text_tokens * case.model.heads * _ceil(event.tokens, a)
        analyzer = vectors / self.values["analyzer_vectors_per_cycle"]
        if event.selected is not None:
            sorter = sorter_cycles(event.tokens, event.k, a, event.selected)
        else:  # no indices: the formula without empty mask words (E = 0)
            passes = _ceil(event.k, a)
            sorter = passes * event.tokens + event.k - (passes - 1) * a + event.k + 3
        sorter *= self.values["sorter_over_formula"]
        return Cycles.of(sec=sorter + max(0.0, analyzer - attention_cycles))
