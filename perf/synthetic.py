"""Sparsity from the tensor-level model on realistic synthetic activations.

For a :class:`~perf.workload.Case` and a vector size / tile height, every GEMM input gets
activations rendered by :func:`golden.workloads.video_tokens` from the case's video (seed
``case.video_seed``, so all layers see the same camera paths and photographs) through a
projection of its own, at the input's width (3584, or 18944 for the down projection). There is
one projection per GEMM input and *SEC stage* (projection seed ``PROJECTION_BASE + 16 * stage +
input index``; stage = SEC stages passed so far): the blocks between two SEC layers share their
activations and retained tokens, hence their sparsity. This keeps the cost of a 28-block case
to a few renders per input (rendering, not SIC, dominates: about 7 s per 18944-wide input at
S = 11648); per-block projections gave per-block sparsity that differed only by a few
percentage points of projection noise. The tokens retained at that point of the prefill are
kept and :func:`golden.algorithm.similarity_concentration` runs with the case's threshold and
window, the configuration's vector size and m_tile, on column chunks of at most
``CHUNK_SLOTS`` vector slots (SIC treats every slot independently, so chunking changes nothing
but the memory).

SEC follows the case's schedule: at each SEC block the importance of the retained tokens is
:func:`golden.algorithm.token_importance` of :func:`golden.workloads.attention_probs` of that
block's q_proj input (4 heads, 16 text rows, concentration 4, as ``python -m golden``), the
top ``floor(alpha * S)`` survive (:func:`golden.algorithm.select_tokens`); the block's gate
and down inputs already see the survivors (the authors prune after the attention).

Every result is cached on disk (:mod:`perf.cache`), keyed by all of its inputs and by the
source of ``golden.algorithm`` and ``golden.workloads`` (and ``_MODEL_VERSION``, bumped when this
module changes how activations are built or counted).
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Callable

import numpy as np

import golden.algorithm as algorithm
import golden.workloads as workloads

from . import cache as cache_module
from .sparsity import InputSparsity, SecEvent, SparsityProfile, count_tiles
from .workload import INPUTS, POST_SEC_INPUTS, Case

__all__ = ["PROJECTION_BASE", "CHUNK_SLOTS", "InputTask", "input_sparsity", "sec_selection",
           "synthetic_profile"]

#: Base of the per-layer projection seeds.
PROJECTION_BASE = 20261201
#: Vector slots per SIC call (3584 channels at V = 32: about 334 MiB of float64 output).
CHUNK_SLOTS = 112
#: Synthetic attention for the SEC importance (the defaults of ``python -m golden``).
SEC_HEADS, SEC_TEXT_ROWS, SEC_CONCENTRATION = 4, 16, 4.0


def projection_seed(stage: int, name: str) -> int:
    """Projection seed of GEMM input ``name`` in SEC stage ``stage`` (0 before the first)."""
    return PROJECTION_BASE + 16 * stage + INPUTS.index(name)


@dataclass(frozen=True)
class InputTask:
    """Everything one GEMM input's sparsity depends on."""

    geometry: workloads.Geometry
    video_seed: int
    projection_seed: int
    width: int
    positions: np.ndarray
    vector_size: int
    m_tile: int
    threshold: float
    window: tuple[int, int, int]

    def describe(self) -> dict:
        """The cache-key description."""
        return {**_activation_key(self.geometry, self.video_seed, self.projection_seed,
                                  self.width, self.positions),
                "kind": "input-sparsity", "vector_size": self.vector_size,
                "m_tile": self.m_tile, "threshold": self.threshold, "window": list(self.window)}


def _activation_key(geometry, video_seed, seed, width, positions) -> dict:
    """Cache-key description of one layer's rendered activations (retained rows)."""
    g = geometry
    return {"source": cache_module.source_fingerprint(algorithm, workloads),
            "model": _MODEL_VERSION,
            "geometry": [g.frames, g.rows, g.cols, g.frame_stride, g.row_stride,
                         [[s.start, list(s.crop)] for s in g.segments]],
            "video_seed": video_seed, "projection_seed": seed, "width": width,
            "positions": positions}


# Bump when the way activations are built or counted here changes.
_MODEL_VERSION = 2


def _render(geometry, width: int, video_seed: int, seed: int) -> np.ndarray:
    return workloads.video_tokens(geometry, width, seed=video_seed, projection_seed=seed)


def input_sparsity(task: InputTask) -> InputSparsity:
    """Run the tensor-level model for one GEMM input (no cache)."""
    tokens = _render(task.geometry, task.width, task.video_seed,
                     task.projection_seed)[task.positions]
    slots = -(-task.width // task.vector_size)
    similar = np.empty((tokens.shape[0], slots), dtype=bool)
    zero = np.empty_like(similar)
    step = CHUNK_SLOTS * task.vector_size
    for start in range(0, task.width, step):
        result = algorithm.similarity_concentration(
            tokens[:, start:start + step], frame_stride=task.geometry.frame_stride,
            row_stride=task.geometry.row_stride, window=task.window,
            vector_size=task.vector_size, threshold=task.threshold, m_tile=task.m_tile,
            positions=task.positions)
        first = start // task.vector_size
        similar[:, first:first + result.similar.shape[1]] = result.similar
        zero[:, first:first + result.zero.shape[1]] = result.zero
        del result
    return count_tiles(similar, zero, task.m_tile)


def _cached_input(task: InputTask, store: cache_module.ArrayCache | None) -> InputSparsity:
    key = cache_module.cache_key(task.describe())
    if store is not None:
        arrays = store.load(key)
        if arrays is not None:
            return InputSparsity.from_arrays(arrays)
    item = input_sparsity(task)
    if store is not None:
        store.store(key, item.to_arrays())
    return item


def sec_selection(case: Case, block: int, positions: np.ndarray, k: int, stage: int,
                  store: cache_module.ArrayCache | None = None) -> np.ndarray:
    """Indices (into ``positions``) of the ``k`` tokens SEC keeps at ``block`` (in ``stage``)."""
    seed = projection_seed(stage, "q_proj")
    description = {**_activation_key(case.geometry, case.video_seed, seed, case.model.hidden,
                                     positions),
                   "kind": "sec-selection", "k": k,
                   "attention": [SEC_HEADS, SEC_TEXT_ROWS, SEC_CONCENTRATION, block]}
    key = cache_module.cache_key(description)
    if store is not None:
        arrays = store.load(key)
        if arrays is not None:
            return arrays["selected"]
    tokens = _render(case.geometry, case.model.hidden, case.video_seed, seed)[positions]
    probs = workloads.attention_probs(tokens, heads=SEC_HEADS, text_rows=SEC_TEXT_ROWS,
                                      concentration=SEC_CONCENTRATION,
                                      seed=case.video_seed * 1000 + block)
    selected = algorithm.select_tokens(algorithm.token_importance(probs), k)
    if store is not None:
        store.store(key, {"selected": selected})
    return selected


def _plan(case: Case, vector_size: int, m_tile: int, store) -> tuple[list, list[SecEvent]]:
    """The (block, input, task) list and the SEC events of the case's schedule."""
    sizes = dict(zip(case.sec_layers, algorithm.stage_sizes(case.sequence, case.sec_ratios)))
    retained = np.arange(case.sequence, dtype=np.int64)
    stage = 0
    tasks, events = [], []
    for block in range(case.model.blocks):
        before, before_stage = retained, stage
        if block in sizes:
            k = min(sizes[block], before.size)
            selected = sec_selection(case, block, before, k, stage, store)
            events.append(SecEvent(block, before.size, k, selected))
            retained = before[selected]
            stage += 1
        for name in INPUTS:
            post = name in POST_SEC_INPUTS
            positions, input_stage = (retained, stage) if post else (before, before_stage)
            tasks.append((block, name, InputTask(
                case.geometry, case.video_seed, projection_seed(input_stage, name),
                case.model.input_width(name), positions, vector_size, m_tile,
                case.threshold, tuple(case.window))))
    return tasks, events


def _run_task(arguments):
    task, root = arguments
    store = cache_module.ArrayCache(root) if root is not None else None
    return _cached_input(task, store)


def synthetic_profile(case: Case, *, vector_size: int, m_tile: int, cache_dir=None, jobs: int = 1,
                      progress: Callable[[int, int], None] | None = None) -> SparsityProfile:
    """The case's sparsity from the tensor-level model (see the module docstring).

    Parameters
    ----------
    case : Case
    vector_size, m_tile : int
        The configuration's SIC vector size (array rows) and tile height.
    cache_dir : path, optional
        Cache root; None disables caching.
    jobs : int, optional
        Worker processes (default 1).
    progress : callable ``(done, total)``, optional
        Called as inputs finish (work weighted by tokens x width).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    store = cache_module.ArrayCache(cache_dir) if cache_dir is not None else None
    tasks, events = _plan(case, vector_size, m_tile, store)
    unique: dict[str, InputTask] = {}
    keys = []
    for _, _, task in tasks:
        key = cache_module.cache_key(task.describe())
        unique.setdefault(key, task)
        keys.append(key)
    weights = {key: task.positions.size * task.width for key, task in unique.items()}
    total, done = sum(weights.values()), 0
    root = None if cache_dir is None else str(cache_dir)
    arguments = [(task, root) for task in unique.values()]
    if jobs == 1:
        outcomes = map(_run_task, arguments)
        executor = None
    else:
        executor = concurrent.futures.ProcessPoolExecutor(max_workers=jobs)
        outcomes = executor.map(_run_task, arguments)
    computed: dict[str, InputSparsity] = {}
    try:
        for key, item in zip(unique, outcomes):
            computed[key] = item
            done += weights[key]
            if progress is not None:
                progress(done, total)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    results = {(block, name): computed[key] for (block, name, _), key in zip(tasks, keys)}
    inputs = {name: [results[(block, name)] for block in range(case.model.blocks)]
              for name in INPUTS}
    source = (f"tensor-level model (golden.algorithm) on synthetic video activations "
              f"(golden.workloads, video seed {case.video_seed}, one projection per SEC stage "
              f"and input), theta {case.threshold}, window {'x'.join(map(str, case.window))}, "
              f"V = {vector_size}, m_tile {m_tile}")
    return SparsityProfile(case.name, source, vector_size, m_tile, inputs, events)
