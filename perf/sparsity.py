"""Sparsity of every GEMM input of a workload, as the cycle and energy models need it.

The unit is :class:`InputSparsity`: for one block and one GEMM input, per m-tile (a run of
``m_tile`` retained tokens, the hardware's output tile height) the retained tokens and, per
vector slot (a K-slice of ``vector_size`` channels), the unique vectors the array must stream
and the non-zero vectors. A :class:`SparsityProfile` holds them for every block and input of
a case plus the SEC events (where tokens were pruned). Profiles come from the tensor-level
model (:mod:`perf.synthetic`), from traces (:mod:`perf.traces`) or from an op density
(:func:`density_profile`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from golden.algorithm import stage_sizes

from .workload import INPUTS, POST_SEC_INPUTS, Case

__all__ = [
    "InputSparsity",
    "SecEvent",
    "SparsityProfile",
    "count_tiles",
    "dense_input",
    "layer_macs",
    "mac_counts",
    "density_profile",
]


@dataclass(frozen=True)
class InputSparsity:
    """One GEMM input of one block, per m-tile and vector slot.

    Attributes
    ----------
    tile_tokens : numpy.ndarray of int64, shape (tiles,)
        Retained tokens of each m-tile (the last tile may be shorter).
    unique : numpy.ndarray of int64, shape (tiles, slots)
        Unique (stored, non-zero) vectors: the fold length of that K-slice.
    nonzero : numpy.ndarray of int64, shape (tiles, slots)
        Vectors that are not all-zero (unique + similar).
    live_tokens : int
        Retained tokens with at least one non-zero vector (the authors' token count).
    """

    tile_tokens: np.ndarray
    unique: np.ndarray
    nonzero: np.ndarray
    live_tokens: int

    def __post_init__(self):
        tiles = self.tile_tokens.shape[0]
        if self.unique.shape != self.nonzero.shape or self.unique.shape[0] != tiles:
            raise ValueError(f"inconsistent shapes: tile_tokens {self.tile_tokens.shape}, "
                             f"unique {self.unique.shape}, nonzero {self.nonzero.shape}")
        if np.any(self.unique > self.nonzero) or np.any(self.nonzero > self.tile_tokens[:, None]):
            raise ValueError("need unique <= nonzero <= tile tokens in every tile and slot")

    @property
    def tokens(self) -> int:
        """Retained tokens."""
        return int(self.tile_tokens.sum())

    @property
    def slots(self) -> int:
        """Vector slots (K-slices) per token."""
        return int(self.unique.shape[1])

    @property
    def unique_total(self) -> int:
        return int(self.unique.sum())

    @property
    def nonzero_total(self) -> int:
        return int(self.nonzero.sum())

    @property
    def sparsity(self) -> float:
        """(similar + zero) / all vectors of the retained tokens (spec 2.3)."""
        total = self.tokens * self.slots
        return 1.0 - self.unique_total / total if total else 0.0

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The fields as named arrays (for ``numpy.savez``)."""
        return {f"{prefix}tile_tokens": self.tile_tokens, f"{prefix}unique": self.unique,
                f"{prefix}nonzero": self.nonzero,
                f"{prefix}live_tokens": np.array(self.live_tokens, dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "") -> "InputSparsity":
        return cls(np.asarray(arrays[f"{prefix}tile_tokens"], dtype=np.int64),
                   np.asarray(arrays[f"{prefix}unique"], dtype=np.int64),
                   np.asarray(arrays[f"{prefix}nonzero"], dtype=np.int64),
                   int(arrays[f"{prefix}live_tokens"]))


def count_tiles(similar, zero, m_tile: int) -> InputSparsity:
    """Per-tile counts from the masks of one GEMM input's retained tokens.

    Parameters
    ----------
    similar, zero : array_like of bool, shape (tokens, slots)
        Vector merged into an earlier group / all-zero vector, for the retained tokens in
        ascending position order (tiles are runs of ``m_tile`` of them).
    m_tile : int
        Tokens per m-tile.
    """
    similar = np.asarray(similar, dtype=bool)
    zero = np.asarray(zero, dtype=bool)
    if similar.shape != zero.shape or similar.ndim != 2:
        raise ValueError(f"similar {similar.shape} and zero {zero.shape} must be equal 2-D shapes")
    if m_tile < 1:
        raise ValueError(f"m_tile must be >= 1, got {m_tile}")
    tokens, slots = similar.shape
    starts = np.arange(0, tokens, m_tile)
    live = ~zero
    unique = live & ~similar
    if tokens:
        unique_counts = np.add.reduceat(unique.astype(np.int64), starts, axis=0)
        live_counts = np.add.reduceat(live.astype(np.int64), starts, axis=0)
    else:
        unique_counts = live_counts = np.zeros((0, slots), dtype=np.int64)
    tile_tokens = np.minimum(m_tile, tokens - starts).astype(np.int64)
    return InputSparsity(tile_tokens, unique_counts, live_counts, int(np.count_nonzero(live.any(axis=1))))


def dense_input(tokens: int, slots: int, m_tile: int) -> InputSparsity:
    """An uncompressed input: every retained vector is unique."""
    tile_tokens = np.minimum(m_tile, tokens - np.arange(0, tokens, m_tile)).astype(np.int64)
    counts = np.repeat(tile_tokens[:, None], slots, axis=1)
    return InputSparsity(tile_tokens, counts, counts.copy(), tokens)


@dataclass(frozen=True)
class SecEvent:
    """One SEC stage: at block ``block``, ``k`` of ``tokens`` survive.

    ``selected`` holds the survivors' indices among the ``tokens`` (0-based, ascending) when
    known; the sorter's exact cycle count needs them (empty mask words).
    """

    block: int
    tokens: int
    k: int
    selected: np.ndarray | None = None


@dataclass
class SparsityProfile:
    """Sparsity of every GEMM input of every block of a case.

    Attributes
    ----------
    case : str
    source : str
        Where the sparsity came from (printed in every report).
    vector_size, m_tile : int
        The slot width and tile height the counts use.
    inputs : dict
        ``inputs[name][block]`` is the :class:`InputSparsity` of GEMM input ``name``.
    sec : list of SecEvent
    """

    case: str
    source: str
    vector_size: int
    m_tile: int
    inputs: dict[str, list[InputSparsity]]
    sec: list[SecEvent] = field(default_factory=list)

    def validate(self, case: Case) -> None:
        """Raise ValueError naming the problem unless the profile fits ``case``."""
        model = case.model
        for name in INPUTS:
            if name not in self.inputs:
                raise ValueError(f"sparsity of {case.name} lacks GEMM input {name!r}")
            blocks = self.inputs[name]
            if len(blocks) != model.blocks:
                raise ValueError(f"sparsity of {case.name}, input {name}: {len(blocks)} blocks, "
                                 f"the model has {model.blocks}")
            slots = -(-model.input_width(name) // self.vector_size)
            for block, item in enumerate(blocks):
                if item.slots != slots:
                    raise ValueError(
                        f"sparsity of {case.name}, input {name}, block {block}: {item.slots} "
                        f"vector slots, expected {slots} (width {model.input_width(name)} / "
                        f"vector size {self.vector_size})")
                if item.tokens > case.sequence:
                    raise ValueError(
                        f"sparsity of {case.name}, input {name}, block {block}: {item.tokens} "
                        f"tokens, more than the sequence ({case.sequence})")
        if model.head_dim % self.vector_size:
            raise ValueError(f"head dimension {model.head_dim} must be a multiple of the vector "
                             f"size {self.vector_size} (a query slot may not straddle two heads)")


# --------------------------------------------------------------------------------------
# MAC counts (the op density's numerator and denominator)
# --------------------------------------------------------------------------------------


def _slot_widths(width: int, vector_size: int) -> np.ndarray:
    """Channels of every vector slot (the last may be partial)."""
    slots = -(-width // vector_size)
    widths = np.full(slots, vector_size, dtype=np.int64)
    widths[-1] = width - vector_size * (slots - 1)
    return widths


def layer_macs(gemm, model, sequence: int, item: InputSparsity | None,
               vector_size: int) -> tuple[int, int]:
    """(MACs Focus performs, dense MACs) of one GEMM of one block (``item`` None: dense).

    Linear: every unique vector of slot t is multiplied with its ``width_t x N`` weights.
    Attention (causal, half counted): Q K^T with the unique query vectors against every
    retained key, S V with every retained token (the published definition).
    """
    if gemm.kind == "linear":
        dense = sequence * gemm.in_features * gemm.out_features
        if item is None:
            return dense, dense
        widths = _slot_widths(gemm.in_features, vector_size)
        return int((item.unique.sum(axis=0) * widths).sum()) * gemm.out_features, dense
    dense = sequence * sequence * model.hidden
    if item is None:
        return dense, dense
    widths = _slot_widths(model.hidden, vector_size)
    keys = item.tokens
    focus = int((item.unique.sum(axis=0) * widths).sum()) * keys // 2 + keys * keys * model.hidden // 2
    return focus, dense


def mac_counts(case: Case, profile: SparsityProfile) -> tuple[int, int]:
    """(MACs Focus performs, dense MACs) of the whole prefill (see :func:`layer_macs`)."""
    focus = dense = 0
    for gemm in case.model.gemms():
        for block in range(case.model.blocks):
            done, total = layer_macs(gemm, case.model, case.sequence,
                                     profile.inputs[gemm.input][block], profile.vector_size)
            focus += done
            dense += total
    return focus, dense


# --------------------------------------------------------------------------------------
# Profiles at a given op density
# --------------------------------------------------------------------------------------


def _token_schedule(case: Case) -> list[tuple[int, int]]:
    """(tokens before, tokens after) the SEC stage of every block (published schedule)."""
    sizes = dict(zip(case.sec_layers, stage_sizes(case.sequence, case.sec_ratios)))
    schedule, tokens = [], case.sequence
    for block in range(case.model.blocks):
        after = sizes.get(block, tokens)
        schedule.append((tokens, after))
        tokens = after
    return schedule


def _uniform_profile(case: Case, fraction: float, vector_size: int, m_tile: int,
                     source: str) -> SparsityProfile:
    """Every tile and slot keeps ``round(fraction * tile tokens)`` unique vectors."""
    inputs: dict[str, list[InputSparsity]] = {name: [] for name in INPUTS}
    sec = []
    for block, (before, after) in enumerate(_token_schedule(case)):
        if after != before:
            sec.append(SecEvent(block, before, after))
        for name in INPUTS:
            tokens = after if name in POST_SEC_INPUTS else before
            slots = -(-case.model.input_width(name) // vector_size)
            dense = dense_input(tokens, slots, m_tile)
            unique = np.rint(fraction * dense.nonzero).astype(np.int64)
            inputs[name].append(InputSparsity(dense.tile_tokens, unique, dense.nonzero, tokens))
    return SparsityProfile(case.name, source, vector_size, m_tile, inputs, sec)


def density_profile(case: Case, density: float, *, vector_size: int, m_tile: int,
                    tolerance: float = 1e-6) -> SparsityProfile:
    """A profile whose op density (Focus MACs / dense MACs) is ``density``.

    Tokens follow the case's SEC schedule (published stage sizes); every GEMM input keeps the
    same fraction u of its retained vectors unique, u found by bisection.

    Raises
    ------
    ValueError
        If ``density`` lies outside what the SEC schedule allows (u in [0, 1]).
    """
    if not (isinstance(density, (int, float)) and math.isfinite(density)):
        raise ValueError(f"density must be a number, got {density!r}")

    def achieved(fraction: float) -> float:
        profile = _uniform_profile(case, fraction, vector_size, m_tile, "")
        focus, dense = mac_counts(case, profile)
        return focus / dense

    low_value, high_value = achieved(0.0), achieved(1.0)
    if not low_value <= density <= high_value:
        raise ValueError(f"density {density} is not reachable for {case.name} with its SEC "
                         f"schedule: it must be in [{low_value:.4f}, {high_value:.4f}]")
    low, high = 0.0, 1.0
    while high - low > tolerance:
        middle = (low + high) / 2
        if achieved(middle) < density:
            low = middle
        else:
            high = middle
    fraction = (low + high) / 2
    return _uniform_profile(case, fraction, vector_size, m_tile,
                            f"op density {density} (published SEC schedule, "
                            f"{100 * fraction:.2f} % of retained vectors unique in every GEMM input)")
