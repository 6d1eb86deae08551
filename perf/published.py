"""The published cycle model (spec system.md 2), evaluated exactly as the authors do.

Array ``rows x cols``, tile height ``m_tile``, ``lanes`` scatter lanes (32, 32, 1024 and 2 in the
publication; taken from the configuration here):

* a fold of M vectors costs ``M + FILL`` cycles (``FILL`` = 93, SCALE-Sim's figure for the
  32 x 32 weight-stationary array; used for every array size, as ``make bench`` does);
  folds never overlap;
* dense linear ``(S x K)(K x N)``: ``t = ceil(S / m_tile)`` partitions of ``ceil(S / t)`` rows,
  ``(rows + FILL) t ceil(N / cols) ceil(K / rows)``; attention per head: Q K^T is that with
  ``N = S, K = head_dim``, S V costs the same, and the two are halved (causal);
* Focus linear: ``p = floor(unique / T)`` (unique vectors per slot), ``t = ceil(tokens /
  m_tile)``, compute ``(floor(p / t) + FILL) t ceil(N / cols) ceil(K / rows)``, scatter
  ``ceil(floor(nonzero / T) ceil(K / rows) ceil(N / cols) / lanes)``, gather
  ``8 m_tile (n_chunk / cols) / matchers`` per output tile of ``m_tile x n_chunk``
  (``n_chunk`` = 96) over ``ceil(tokens / m_tile) ceil(N / n_chunk)`` tiles; the layer costs
  compute + max(0, max(scatter, gather) - compute) + one tile's gather;
* Focus attention: ``nq = floor(unique / T)`` of the query, ``nk`` = retained tokens;
  Q K^T ``(floor(nq / tq) + FILL) tq ceil(nk / cols) ceil(head_dim / rows)``, S V the same with
  ``nk`` rows, both halved and times the heads; scatter ``ceil(floor(nonzero / T)
  ceil(hidden / rows) ceil(S / cols) / lanes)`` (S the full sequence); no gather;
* SEC and SIC detection cost nothing.

"tokens" is the authors' count: retained tokens with at least one non-zero vector.
"""

from __future__ import annotations

from .cycles import ArrayShape, Cycles
from .sparsity import InputSparsity
from .workload import Gemm, ModelShape

__all__ = ["FILL", "GATHER_CYCLES_PER_VECTOR", "N_CHUNK", "fold", "dense_layer", "focus_layer"]

FILL = 93
GATHER_CYCLES_PER_VECTOR = 8
N_CHUNK = 96


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def fold(vectors: int) -> int:
    """Cycles of one fold of ``vectors`` input vectors (SCALE-Sim, 32 x 32 array)."""
    return vectors + FILL


def _partitioned(rows_total: int, shape: ArrayShape) -> int:
    """``t (ceil(rows / t) + FILL)`` with ``t = ceil(rows / m_tile)`` (dense partitions)."""
    parts = _ceil(rows_total, shape.m_tile)
    return fold(_ceil(rows_total, parts)) * parts if parts else 0


def dense_layer(gemm: Gemm, model: ModelShape, sequence: int, shape: ArrayShape) -> Cycles:
    """Published dense cycles of one GEMM of one block."""
    if gemm.kind == "linear":
        compute = (_partitioned(sequence, shape) * _ceil(gemm.out_features, shape.cols)
                   * _ceil(gemm.in_features, shape.rows))
        return Cycles.of(sequence * _ceil(gemm.out_features, shape.cols)
                         * _ceil(gemm.in_features, shape.rows), compute=compute)
    qk = (_partitioned(sequence, shape) * _ceil(sequence, shape.cols)
          * _ceil(model.head_dim, shape.rows) * model.heads)
    vectors = sequence * _ceil(sequence, shape.cols) * _ceil(model.head_dim, shape.rows) * model.heads
    return Cycles.of(vectors, compute=(qk + qk) / 2)


def _focus_fold(vectors: int, tokens: int, shape: ArrayShape) -> int:
    """``t (floor(vectors / t) + FILL)`` with ``t = ceil(tokens / m_tile)``."""
    parts = _ceil(tokens, shape.m_tile)
    return fold(vectors // parts) * parts if parts else 0


def focus_layer(gemm: Gemm, model: ModelShape, sequence: int, item: InputSparsity,
                shape: ArrayShape) -> Cycles:
    """Published Focus cycles of one GEMM of one block, from its input's sparsity."""
    slots = item.slots
    per_slot = item.unique_total // slots
    scatter_tokens = item.nonzero_total // slots
    tokens = item.live_tokens
    if gemm.kind == "attention":
        keys = tokens
        head_slices = _ceil(model.head_dim, shape.rows)
        qk = _focus_fold(per_slot, per_slot, shape) * _ceil(keys, shape.cols) * head_slices
        sv = _focus_fold(keys, keys, shape) * _ceil(keys, shape.cols) * head_slices
        compute = (qk + sv) / 2 * model.heads
        scatter = _ceil(scatter_tokens * _ceil(model.hidden, shape.rows)
                        * _ceil(sequence, shape.cols), shape.lanes)
        vectors = (per_slot + keys) * _ceil(keys, shape.cols) * head_slices * model.heads / 2
        return Cycles.of(vectors, compute=compute, scatter=max(0, scatter - compute))
    n_slices = _ceil(gemm.out_features, shape.cols)
    k_slices = _ceil(gemm.in_features, shape.rows)
    compute = (_focus_fold(per_slot, tokens, shape) * n_slices * k_slices) if per_slot else 0
    scatter = _ceil(scatter_tokens * k_slices * n_slices, shape.lanes)
    per_tile = GATHER_CYCLES_PER_VECTOR * shape.m_tile * (N_CHUNK // shape.cols) / shape.matchers
    gather = per_tile * _ceil(tokens, shape.m_tile) * _ceil(gemm.out_features, N_CHUNK)
    stall = max(0, max(scatter, gather) - compute)
    cause = "scatter" if scatter >= gather else "gather"
    parts = {"compute": compute, cause: stall}
    parts["gather"] = parts.get("gather", 0) + per_tile
    return Cycles.of(per_slot * n_slices * k_slices, **parts)
