"""User sparsity traces: our ``.npz`` layout, and the authors' ``.pth`` layout when torch exists.

``.npz`` layout (``S`` = the case's image tokens, ``T`` = ceil(input width / vector size),
``B`` = blocks; ``<input>`` is each of ``q_proj``, ``query``, ``o_proj``, ``gate_proj``,
``down_proj``, see :data:`perf.workload.INPUTS`):

========================  ==============  ==========================================================
key                       dtype, shape    meaning
========================  ==============  ==========================================================
``<input>.pruned``        bool (B, S)     token removed by SEC before this GEMM input
``<input>.similar``       bool (B, S, T)  vector merged into an earlier vector's group
``<input>.zero``          bool (B, S, T)  optional: all-zero vector (default none)
``<input>.group``         int  (B, S, T)  optional: position of the group's first member, -1 for
                                          zero or pruned vectors (checked against ``similar``)
========================  ==============  ==========================================================

Values at pruned positions are ignored. Tokens are in original position order; tiles are
runs of ``m_tile`` retained tokens. SEC stages are read off the change of the retained set
between a block's ``q_proj`` input and its ``gate_proj`` input. :func:`save_trace` writes the
layout. The authors' layout (``torch.save`` of ``{'mask_zero'|'mask_similar'|'group_idx':
{name: per-block (1, S, T) bool/int tensors}}``, pruned tokens as all-zero rows) is read by
:func:`load_pth` when torch is importable; torch is not a dependency.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .sparsity import SecEvent, SparsityProfile, count_tiles
from .workload import INPUTS, Case

__all__ = ["TRACE_FIELDS", "save_trace", "load_trace", "load_pth", "load_any"]

TRACE_FIELDS = ("pruned", "similar", "zero", "group")


def save_trace(path, masks: dict) -> None:
    """Write ``masks[input][field]`` arrays (fields of :data:`TRACE_FIELDS`) as a trace."""
    arrays = {}
    for name, fields in masks.items():
        for field, value in fields.items():
            if field not in TRACE_FIELDS:
                raise ValueError(f"unknown trace field {field!r}; known: {', '.join(TRACE_FIELDS)}")
            arrays[f"{name}.{field}"] = np.asarray(value)
    np.savez_compressed(path, **arrays)


def _expect(array: np.ndarray, key: str, shape: tuple, kinds: str, path) -> np.ndarray:
    if array.shape != shape:
        raise ValueError(f"{path}: {key} has shape {array.shape}, the workload needs {shape}")
    if array.dtype.kind not in kinds:
        raise ValueError(f"{path}: {key} has dtype {array.dtype}, expected "
                         f"{'bool' if kinds == 'b' else 'integers'}")
    return array


def _check_groups(group: np.ndarray, similar: np.ndarray, zero: np.ndarray, retained: np.ndarray,
                  key: str, path) -> None:
    """Group roots must be earlier retained live vectors that are their own roots."""
    live = ~zero & retained[:, None]
    positions = np.broadcast_to(np.arange(group.shape[0])[:, None], group.shape)
    own = group == positions
    if np.any(live & ~similar & ~own):
        raise ValueError(f"{path}: {key}: a vector that is not similar must be its own group")
    if np.any(live & similar & ((group < 0) | (group >= positions))):
        raise ValueError(f"{path}: {key}: a similar vector's group must be an earlier position")
    if np.any(~live & (group != -1)):
        raise ValueError(f"{path}: {key}: zero and pruned vectors must have group -1")


def _profile(case: Case, vector_size: int, m_tile: int, source: str, masks) -> SparsityProfile:
    """A profile from per-input, per-block (retained, similar, zero) masks."""
    inputs = {name: [] for name in INPUTS}
    retained_sets = {}
    for name in INPUTS:
        for block, (retained, similar, zero) in enumerate(masks(name)):
            rows = np.flatnonzero(retained)
            inputs[name].append(count_tiles(similar[rows], zero[rows], m_tile))
            retained_sets[(name, block)] = rows
    events = []
    for block in range(case.model.blocks):
        before, after = retained_sets[("q_proj", block)], retained_sets[("gate_proj", block)]
        if after.size < before.size:
            kept = np.flatnonzero(np.isin(before, after))
            events.append(SecEvent(block, before.size, after.size, kept))
    return SparsityProfile(case.name, source, vector_size, m_tile, inputs, events)


def load_trace(path, case: Case, *, vector_size: int, m_tile: int) -> SparsityProfile:
    """Read an ``.npz`` trace for ``case`` (see the module docstring for the layout).

    Raises
    ------
    ValueError
        Naming the key and the shape when the trace does not fit the workload.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read trace {path}: {error}") from None
    with data:
        keys = set(data.files)
        blocks, tokens = case.model.blocks, case.sequence
        loaded = {}
        for name in INPUTS:
            for field in ("pruned", "similar"):
                if f"{name}.{field}" not in keys:
                    raise ValueError(f"{path}: missing key {name}.{field} (a trace needs "
                                     f"'<input>.pruned' and '<input>.similar' for every input "
                                     f"of {', '.join(INPUTS)})")
            slots = -(-case.model.input_width(name) // vector_size)
            shape = (blocks, tokens, slots)
            pruned = _expect(data[f"{name}.pruned"], f"{name}.pruned", (blocks, tokens), "b", path)
            similar = _expect(data[f"{name}.similar"], f"{name}.similar", shape, "b", path)
            zero = (_expect(data[f"{name}.zero"], f"{name}.zero", shape, "b", path)
                    if f"{name}.zero" in keys else np.zeros(shape, dtype=bool))
            if f"{name}.group" in keys:
                group = _expect(data[f"{name}.group"], f"{name}.group", shape, "iu", path)
                for block in range(blocks):
                    _check_groups(group[block], similar[block], zero[block], ~pruned[block],
                                  f"{name}.group block {block}", path)
            loaded[name] = (pruned, similar, zero)
        unknown = keys - {f"{n}.{f}" for n in INPUTS for f in TRACE_FIELDS}
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}")

    def masks(name):
        pruned, similar, zero = loaded[name]
        return ((~pruned[b], similar[b] & ~pruned[b, :, None], zero[b]) for b in range(blocks))

    return _profile(case, vector_size, m_tile, f"trace {path}", masks)


def load_pth(path, case: Case, *, vector_size: int, m_tile: int) -> SparsityProfile:
    """Read the authors' ``.pth`` trace layout (needs torch, which is optional).

    ``info['mask_zero'][name][block]`` and ``info['mask_similar'][name][block]`` are
    (1, S, T) boolean tensors for the names of :data:`perf.workload.INPUTS`; a token whose
    vectors are all zero was pruned.
    """
    try:
        import torch
    except ModuleNotFoundError:
        raise ValueError(f"{path}: reading the authors' .pth traces needs torch, which is not "
                         "installed (convert the trace to the .npz layout instead)") from None
    info = torch.load(path, map_location="cpu")
    for key in ("mask_zero", "mask_similar"):
        if key not in info:
            raise ValueError(f"{path}: missing {key!r}; the authors' layout has mask_zero, "
                             "mask_similar and group_idx")
    blocks, tokens = case.model.blocks, case.sequence

    def layer(key, name, block):
        try:
            array = np.asarray(info[key][name][block].cpu().numpy(), dtype=bool)
        except (KeyError, IndexError):
            raise ValueError(f"{path}: {key}[{name!r}] has no block {block}") from None
        slots = -(-case.model.input_width(name) // vector_size)
        array = array.reshape(array.shape[-2:]) if array.ndim == 3 and array.shape[0] == 1 else array
        if array.shape != (tokens, slots):
            raise ValueError(f"{path}: {key}[{name!r}][{block}] has shape {array.shape}, "
                             f"the workload needs ({tokens}, {slots})")
        return array

    def masks(name):
        for block in range(blocks):
            zero = layer("mask_zero", name, block)
            similar = layer("mask_similar", name, block)
            yield ~zero.all(axis=1), similar & ~zero, zero

    return _profile(case, vector_size, m_tile, f"authors' trace {path}", masks)


def load_any(path, case: Case, *, vector_size: int, m_tile: int) -> SparsityProfile:
    """:func:`load_trace` for ``.npz``, :func:`load_pth` for ``.pth``/``.pt``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return load_trace(path, case, vector_size=vector_size, m_tile=m_tile)
    if suffix in (".pth", ".pt"):
        return load_pth(path, case, vector_size=vector_size, m_tile=m_tile)
    raise ValueError(f"{path}: traces must be .npz (or the authors' .pth), got {suffix!r}")
