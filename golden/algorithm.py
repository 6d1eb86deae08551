"""Tensor-level golden model of the Focus algorithm (specification section 2).

This module states *what* Focus computes, in float64 NumPy, independently of any
hardware detail.  It is the reference that the bit-exact block models and the RTL
are compared against (the spec asks for >= 99.9 % agreement of similarity decisions
on realistic data).

Public API
----------
Semantic concentration (SEC, spec 2.2):
    :func:`token_importance`, :func:`select_tokens`, :func:`stage_sizes`,
    :func:`nested_selection`, :data:`PUBLISHED_SEC`, :func:`token_offsets`,
    :func:`encode_offsets`, :func:`decode_offsets`.
Similarity concentration (SIC, spec 2.3):
    :func:`candidate_offsets`, :func:`similarity_concentration` returning a
    :class:`SimilarityResult`.
Compressed GEMM (spec 2.4):
    :func:`compress`, :class:`CompressedMatrix`, :class:`CompressedSlice`,
    :func:`compressed_gemm`.

Interpretation decisions and divergences from the authors' code are listed in
``docs/algorithm.md``.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "ZERO",
    "SecSchedule",
    "PUBLISHED_SEC",
    "token_importance",
    "select_tokens",
    "stage_sizes",
    "nested_selection",
    "token_offsets",
    "encode_offsets",
    "decode_offsets",
    "candidate_offsets",
    "SimilarityResult",
    "similarity_concentration",
    "CompressedSlice",
    "CompressedMatrix",
    "compress",
    "compressed_gemm",
]

#: Similarity-map code of an all-zero vector (it has no group and no storage).
ZERO = -1

#: Signature of the optional progress callback: ``progress(done, total)``.
ProgressFn = Callable[[int, int], None]

# Elements (float64) per row block in the streaming passes: ~16 MB per block array.
_BLOCK_ELEMENTS = 1 << 21


# --------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------


def _positive_int(value, name: str) -> int:
    """Return ``value`` as a Python int, requiring an integer >= 1."""
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if result < 1:
        raise ValueError(f"{name} must be >= 1, got {result}")
    return result


def _real_array(values, name: str, ndim: int) -> np.ndarray:
    """Return ``values`` as an integer or floating array of the given rank."""
    array = np.asarray(values)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} must hold integers or floats, got dtype {array.dtype}")
    return array


def _index_array(values, name: str) -> np.ndarray:
    """Return a 1-D int64 array of strictly ascending non-negative indices."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.size and array[0] < 0:
        raise ValueError(f"{name} must be non-negative")
    if np.any(np.diff(array) <= 0):
        raise ValueError(f"{name} must be strictly ascending")
    return array


def _check_window(window) -> tuple[int, int, int]:
    """Return the SIC window (bf, bh, bw) as three positive ints."""
    sizes = tuple(window)
    if len(sizes) != 3:
        raise ValueError(f"window must be (frames, rows, cols), got {window!r}")
    return tuple(_positive_int(size, "window size") for size in sizes)  # type: ignore[return-value]


def _check_threshold(threshold) -> float:
    """Return theta as a float in [0, 1] (the hardware test needs theta >= 0)."""
    theta = float(threshold)
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return theta


# --------------------------------------------------------------------------------------
# SEC: token importance, top-k selection, schedule, offsets (spec 2.2)
# --------------------------------------------------------------------------------------


def token_importance(probs) -> np.ndarray:
    """Importance of every image token: the max attention any text row pays it.

    Parameters
    ----------
    probs : array_like, shape (heads, text_rows, image_tokens)
        Post-softmax attention probabilities from the text (question) rows to the
        image-token columns of one layer.

    Returns
    -------
    numpy.ndarray, shape (image_tokens,)
        ``max over heads and text rows`` (max, not sum or mean), same dtype as
        ``probs``.
    """
    array = _real_array(probs, "probs", 3)
    heads, rows, tokens = array.shape
    if heads == 0 or rows == 0:
        raise ValueError("probs needs at least one head and one text row")
    return array.max(axis=(0, 1))


def select_tokens(importance, k) -> np.ndarray:
    """Top-k token indices under the total order of spec 2.2, in ascending order.

    The order is: higher importance first; on equal importance the lower index wins.

    Parameters
    ----------
    importance : array_like, shape (m,)
        Importance of each token (integers or finite floats).
    k : int
        Number of tokens to keep, ``1 <= k <= m``.

    Returns
    -------
    numpy.ndarray of int64, shape (k,)
        Indices of the selected tokens, ascending.
    """
    values = _real_array(importance, "importance", 1)
    count = values.size
    k = _positive_int(k, "k")
    if k > count:
        raise ValueError(f"k = {k} exceeds the {count} tokens available")
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.isfinite(values)):
        raise ValueError("importance must be finite")
    # A stable ascending sort of the reversed array puts, among equal values, the
    # higher original index first; reversing that order gives descending importance
    # with the lower original index first.  Works for every dtype (no negation).
    ascending_reversed = np.argsort(values[::-1], kind="stable")
    descending = (count - 1 - ascending_reversed)[::-1]
    return np.sort(descending[:k]).astype(np.int64)


@dataclass(frozen=True)
class SecSchedule:
    """A SEC schedule: the selected layers and their retention ratios.

    Attributes
    ----------
    layers : tuple of int
        Decoder layers at which SEC runs (informational for this model).
    ratios : tuple of float
        Retention ratio alpha of each stage, a fraction of the ORIGINAL token count.
    """

    layers: tuple[int, ...]
    ratios: tuple[float, ...]

    def sizes(self, m0: int) -> list[int]:
        """Tokens kept after each stage for ``m0`` original image tokens."""
        return stage_sizes(m0, self.ratios)


_PUBLISHED_RATIOS = (0.40, 0.30, 0.20, 0.15, 0.10)

#: Published SEC schedules (spec 2.2).
PUBLISHED_SEC = {
    "llava-video": SecSchedule((3, 6, 9, 18, 26), _PUBLISHED_RATIOS),
    "llava-onevision": SecSchedule((2, 5, 8, 16, 25), _PUBLISHED_RATIOS),
    "minicpm-v": SecSchedule((2, 5, 8, 16, 25), _PUBLISHED_RATIOS),
}


def stage_sizes(m0, ratios: Sequence[float]) -> list[int]:
    """Number of tokens kept at each nested SEC stage.

    ``k = floor(alpha * m0)`` evaluated in IEEE double precision (as the authors'
    Python does), clamped to ``[1, tokens currently retained]``.

    Parameters
    ----------
    m0 : int
        Original image-token count, >= 1.
    ratios : sequence of float
        Non-negative retention ratio of each stage, relative to ``m0``.

    Returns
    -------
    list of int
        ``k`` of every stage; non-increasing.
    """
    m0 = _positive_int(m0, "m0")
    retained = m0
    sizes = []
    for alpha in ratios:
        alpha = float(alpha)
        if not (math.isfinite(alpha) and alpha >= 0.0):
            raise ValueError(f"retention ratios must be finite and >= 0, got {alpha!r}")
        retained = min(max(math.floor(alpha * m0), 1), retained)
        sizes.append(retained)
    return sizes


def nested_selection(
    m0, ratios: Sequence[float], importance_of: Callable[[int, np.ndarray], object]
) -> list[np.ndarray]:
    """Run a nested multi-layer SEC schedule.

    Parameters
    ----------
    m0 : int
        Original image-token count.
    ratios : sequence of float
        Retention ratio of each stage (see :func:`stage_sizes`).
    importance_of : callable ``(stage, retained) -> importance``
        Returns the importance of the currently retained tokens (one value per entry
        of ``retained``, the ascending ORIGINAL indices of the survivors) at stage
        ``stage`` (0-based).

    Returns
    -------
    list of numpy.ndarray
        For every stage, the ascending original indices that survive it.  Each stage
        selects among the survivors of the previous one.
    """
    retained = np.arange(_positive_int(m0, "m0"), dtype=np.int64)
    survivors = []
    for stage, k in enumerate(stage_sizes(m0, ratios)):
        importance = np.asarray(importance_of(stage, retained))
        if importance.shape != retained.shape:
            raise ValueError(
                f"stage {stage}: importance has shape {importance.shape}, "
                f"expected {retained.shape} (one value per retained token)"
            )
        retained = retained[select_tokens(importance, k)]
        survivors.append(retained)
    return survivors


def token_offsets(indices) -> np.ndarray:
    """Delta offsets of ascending survivor indices: ``d_j = i_j - i_{j-1}``, ``i_{-1} = -1``.

    Every offset is >= 1.
    """
    positions = _index_array(indices, "indices")
    return np.diff(positions, prepend=-1)


def _code_dtype(bits: int) -> np.dtype:
    """Smallest unsigned dtype holding a ``bits``-wide code."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if bits <= np.iinfo(dtype).bits:
            return np.dtype(dtype)
    raise ValueError(f"bits must be <= 32, got {bits}")


def encode_offsets(indices, bits) -> np.ndarray:
    """Encode ascending token indices as a stream of ``bits``-wide offset codes.

    Scheme (lossless for any gap): let ``E = 2**bits - 1`` (the largest code).

    * code ``c`` in ``1 .. E``: advance the position by ``c`` plus the pending
      escapes, and emit one token there;
    * code ``0`` (never a real offset, since offsets are >= 1) is the escape: it adds
      ``E`` to the pending gap and emits nothing.

    An offset ``d`` is therefore sent as ``(d - 1) // E`` escape codes followed by the
    code ``d - E * ((d - 1) // E)`` (in ``1 .. E``).  Offsets up to ``E`` cost exactly
    one code; the first index is coded relative to position -1.

    Parameters
    ----------
    indices : array_like of int, shape (n,)
        Strictly ascending, non-negative token indices.
    bits : int
        Width of one code, 1 to 32.

    Returns
    -------
    numpy.ndarray
        The codes, dtype uint8, uint16 or uint32 (the smallest that holds ``bits``).
    """
    bits = _positive_int(bits, "bits")
    dtype = _code_dtype(bits)
    step = (1 << bits) - 1
    offsets = token_offsets(indices)
    escapes = (offsets - 1) // step
    codes = np.zeros(int(np.sum(escapes + 1)), dtype=dtype)
    last = np.cumsum(escapes + 1) - 1
    codes[last] = offsets - escapes * step
    return codes


def decode_offsets(codes, bits) -> np.ndarray:
    """Decode a stream made by :func:`encode_offsets` back into token indices.

    Parameters
    ----------
    codes : array_like of int, shape (n,)
        Codes in ``0 .. 2**bits - 1``; the stream must not end with an escape (0).
    bits : int
        Width of one code, 1 to 32.

    Returns
    -------
    numpy.ndarray of int64
        The ascending token indices.
    """
    bits = _positive_int(bits, "bits")
    _code_dtype(bits)
    step = (1 << bits) - 1
    stream = np.asarray(codes)
    if stream.ndim != 1:
        raise ValueError(f"codes must be one-dimensional, got shape {stream.shape}")
    if stream.size and not np.issubdtype(stream.dtype, np.integer):
        raise TypeError(f"codes must hold integers, got dtype {stream.dtype}")
    stream = stream.astype(np.int64)
    if np.any((stream < 0) | (stream > step)):
        raise ValueError(f"codes must be in 0 .. {step} for {bits}-bit codes")
    if stream.size and stream[-1] == 0:
        raise ValueError("code stream ends with an escape (0) that no token completes")
    emits = np.flatnonzero(stream)
    escapes_before = np.diff(emits, prepend=-1) - 1
    offsets = stream[emits] + step * escapes_before
    return np.cumsum(offsets) - 1


# --------------------------------------------------------------------------------------
# SIC: similarity concentration (spec 2.3)
# --------------------------------------------------------------------------------------


def candidate_offsets(frame_stride, row_stride, window=(2, 2, 2)) -> np.ndarray:
    """Linear backward offsets of the SIC candidates, in comparison order.

    ``o = df*frame_stride + dh*row_stride + dw`` for ``df < bf, dh < bh, dw < bw``
    except ``(0, 0, 0)``, in lexicographic ``(df, dh, dw)`` order (the tie-break
    order).  The default window gives 7 offsets ``1, HS, HS+1, FS, FS+1, FS+HS,
    FS+HS+1``.

    Returns
    -------
    numpy.ndarray of int64, shape (bf*bh*bw - 1,)
    """
    frame_stride = _positive_int(frame_stride, "frame_stride")
    row_stride = _positive_int(row_stride, "row_stride")
    frames, rows, cols = _check_window(window)
    grid = np.indices((frames, rows, cols)).reshape(3, -1)[:, 1:]
    return (grid[0] * frame_stride + grid[1] * row_stride + grid[2]).astype(np.int64)


@dataclass(frozen=True)
class SimilarityResult:
    """Result of :func:`similarity_concentration` (T = vectors per token).

    Attributes
    ----------
    out : numpy.ndarray, float64, shape (S, D)
        Every vector replaced by the mean of its group's original vectors (zero
        vectors stay zero).
    similar : numpy.ndarray, bool, shape (S, T)
        The vector's best candidate similarity exceeded the threshold.
    zero : numpy.ndarray, bool, shape (S, T)
        The vector is all-zero.
    group : numpy.ndarray, int64, shape (S, T)
        Token row of the group's first member (the vector's own row when it is not
        similar); ``ZERO`` (-1) for zero vectors.
    link : numpy.ndarray, int64, shape (S, T)
        Token row of the chosen (best) candidate of a similar vector, else -1.
    choice : numpy.ndarray, int32, shape (S, T)
        Index into :attr:`offsets` of the chosen candidate, else -1.
    best : numpy.ndarray, float64, shape (S, T)
        Best cosine over the candidates (an invalid candidate counts as 0; 0 for a
        zero key or an empty window); the vector is similar iff
        ``best > threshold``.  Shows how close each decision is to the threshold.
    sparsity : float
        ``(similar + zero) / all vectors`` (0.0 for an empty input).
    offsets : numpy.ndarray of int64
        The candidate offsets used, in comparison order.
    vector_size, m_tile : int
        The settings used.
    """

    out: np.ndarray
    similar: np.ndarray
    zero: np.ndarray
    group: np.ndarray
    link: np.ndarray
    choice: np.ndarray
    best: np.ndarray
    sparsity: float
    offsets: np.ndarray
    vector_size: int
    m_tile: int

    @property
    def n_vectors(self) -> int:
        """All vectors (tokens x vectors per token)."""
        return int(self.similar.size)

    @property
    def n_similar(self) -> int:
        """Vectors merged into an earlier vector's group."""
        return int(np.count_nonzero(self.similar))

    @property
    def n_zero(self) -> int:
        """All-zero vectors."""
        return int(np.count_nonzero(self.zero))

    @property
    def n_unique(self) -> int:
        """Vectors that must be stored: one per group."""
        return self.n_vectors - self.n_similar - self.n_zero

    @property
    def compression_ratio(self) -> float:
        """All vectors / unique vectors (``inf`` when nothing needs storing)."""
        return self.n_vectors / self.n_unique if self.n_unique else math.inf

    def group_sizes(self) -> np.ndarray:
        """Member count of every group (one entry per unique vector)."""
        groups = self.group[~self.zero]
        slots = np.broadcast_to(np.arange(self.group.shape[1]), self.group.shape)[~self.zero]
        keys = groups * self.group.shape[1] + slots
        return np.unique(keys, return_counts=True)[1]

    def compress(self) -> "CompressedMatrix":
        """The on-chip compressed form of :attr:`out` (see :func:`compress`)."""
        return compress(self.out, self.group, vector_size=self.vector_size, m_tile=self.m_tile)


class _VectorReader:
    """Reads row blocks of an (S, D) matrix as float64 (rows, T, V) vector blocks.

    The last vector is zero-padded to V channels when D is not a multiple of V.
    """

    def __init__(self, x: np.ndarray, vector_size: int):
        self.x = x
        self.rows, self.dim = x.shape
        self.vector_size = vector_size
        self.vectors = -(-self.dim // vector_size)

    def block(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``start:stop`` as float64 vectors of shape (rows, T, V).

        Written into ``out[:rows]`` when a work buffer is given (no allocation),
        else into a fresh array.
        """
        count = stop - start
        if out is None:
            out = np.empty((count, self.vectors, self.vector_size))
        target = out[:count].reshape(count, self.vectors * self.vector_size)
        target[:, : self.dim] = self.x[start:stop]
        target[:, self.dim :] = 0.0
        return out[:count]

    def slot(self, rows: np.ndarray, slot: int) -> np.ndarray:
        """Vector ``slot`` of the given rows as a float64 (V, len(rows)) array."""
        first = slot * self.vector_size
        last = min(first + self.vector_size, self.dim)
        data = np.zeros((self.vector_size, rows.size))
        data[: last - first] = self.x[rows, first:last].T
        return data

    @property
    def block_rows(self) -> int:
        """Rows per streaming block (about ``_BLOCK_ELEMENTS`` elements)."""
        return max(1, _BLOCK_ELEMENTS // (self.vectors * self.vector_size))

    def block_ranges(self):
        """Yield ``(start, stop)`` row ranges of at most :attr:`block_rows` rows."""
        for start in range(0, self.rows, self.block_rows):
            yield start, min(self.rows, start + self.block_rows)


class _Progress:
    """Counts work units and forwards them to an optional callback."""

    def __init__(self, callback: ProgressFn | None, total: int):
        self.callback = callback
        self.total = max(1, total)
        self.done = 0

    def advance(self, units: int) -> None:
        self.done = min(self.total, self.done + units)
        if self.callback is not None:
            self.callback(self.done, self.total)


def _candidate_rows(positions: np.ndarray, offsets: np.ndarray, m_tile: int) -> np.ndarray:
    """Row of each candidate of each token, or -1 when the candidate is invalid.

    Invalid: position < 0, pruned (no retained token there), or in another m-tile.

    Returns
    -------
    numpy.ndarray of int64, shape (len(offsets), S)
    """
    count = positions.size
    rows = np.arange(count)
    wanted = positions[None, :] - offsets[:, None]
    found = np.searchsorted(positions, wanted)
    found_clipped = np.minimum(found, max(count - 1, 0))
    hit = (wanted >= 0) & (found < count)
    if count:
        hit &= positions[found_clipped] == wanted
    hit &= found_clipped // m_tile == rows // m_tile
    return np.where(hit, found_clipped, -1)


def _norms_and_zero(reader: _VectorReader, progress: _Progress) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean norm and all-zero flag of every vector (float64 arithmetic)."""
    norms = np.empty((reader.rows, reader.vectors))
    zero = np.empty((reader.rows, reader.vectors), dtype=bool)
    buffer = np.empty((reader.block_rows, reader.vectors, reader.vector_size))
    for start, stop in reader.block_ranges():
        block = reader.block(start, stop, buffer)
        squared = np.einsum("itv,itv->it", block, block)
        if not np.all(np.isfinite(squared)):
            raise ValueError("x must be finite, with squared vector norms that fit float64")
        np.sqrt(squared, out=norms[start:stop])
        zero[start:stop] = ~np.any(block != 0, axis=-1)
        progress.advance(stop - start)
    return norms, zero


def _best_candidates(
    reader: _VectorReader,
    norms: np.ndarray,
    zero: np.ndarray,
    candidates: np.ndarray,
    theta: float,
    progress: _Progress,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best candidate of every vector: the first maximum cosine, if it exceeds theta.

    Streams over row blocks; each block only reads the earlier rows its candidates
    can reach into a reused work buffer, so no candidates x S x D array ever exists.

    Returns
    -------
    similarity : numpy.ndarray of float64, shape (S, T)
        Best cosine over the candidates, invalid candidates counting as 0 (0 when
        the window has no candidates).
    link : numpy.ndarray of int64, shape (S, T)
        Row of the chosen candidate, -1 if the vector is not similar.
    choice : numpy.ndarray of int32, shape (S, T)
        Index of the chosen candidate offset, -1 if the vector is not similar.
    """
    similarity = np.full(norms.shape, 0.0 if candidates.shape[0] == 0 else -np.inf)
    link = np.full(norms.shape, -1, dtype=np.int64)
    choice = np.full(norms.shape, -1, dtype=np.int32)
    rows = np.arange(reader.rows)
    reach = int(np.max(np.where(candidates >= 0, rows - candidates, 0), initial=0))
    shape = (reader.vectors, reader.vector_size)
    window_buffer = np.empty((reader.block_rows + reach, *shape))
    values_buffer = np.empty((reader.block_rows, *shape))
    for start, stop in reader.block_ranges():
        low = max(0, start - reach)
        window = reader.block(low, stop, window_buffer)
        keys = window[start - low :]
        values = values_buffer[: stop - start]
        key_norms = norms[start:stop]
        key_live = ~zero[start:stop]
        best = similarity[start:stop]
        for index, cand in enumerate(candidates[:, start:stop]):
            usable = cand >= 0
            cand_rows = np.where(usable, cand, rows[start:stop])
            np.take(window, cand_rows - low, axis=0, out=values, mode="clip")
            dots = np.einsum("itv,itv->it", keys, values)
            denominators = key_norms * norms[cand_rows]
            cosines = np.zeros_like(dots)
            np.divide(dots, denominators, out=cosines, where=denominators > 0)
            valid = usable[:, None] & key_live & ~zero[cand_rows]
            cosines[~valid] = 0.0  # an invalid candidate has similarity 0
            better = cosines > best  # strict: the first maximum wins
            best[better] = cosines[better]
            link[start:stop][better] = np.broadcast_to(cand[:, None], better.shape)[better]
            choice[start:stop][better] = index
        progress.advance((stop - start) * len(candidates))
    dissimilar = ~(similarity > theta)  # strict: best must exceed theta
    link[dissimilar] = -1
    choice[dissimilar] = -1
    return similarity, link, choice


def _resolve_groups(link: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Transitive closure of the links by pointer doubling, run to convergence.

    A vector that is not similar is its own group; zero vectors get ``ZERO``.
    """
    rows = np.arange(link.shape[0])[:, None]
    parent = np.where(link >= 0, link, rows)
    while True:
        grandparent = np.take_along_axis(parent, parent, axis=0)
        if np.array_equal(grandparent, parent):
            break
        parent = grandparent
    return np.where(zero, ZERO, parent)


def _mean_table(reader: _VectorReader, group: np.ndarray, progress: _Progress) -> tuple[np.ndarray, np.ndarray]:
    """Means of the groups with two or more members, slot by slot.

    Sums are float64 in ascending row order (``bincount`` adds its weights in input
    order), divided by the member count.

    Returns
    -------
    table : numpy.ndarray of float64, shape (groups with >= 2 members, V)
    table_index : numpy.ndarray of int64, shape (S, T)
        Row of ``table`` holding each vector's group mean, -1 for singletons and zeros.
    """
    count, vectors = group.shape
    size = reader.vector_size
    member_counts = [np.bincount(group[:, t][group[:, t] >= 0], minlength=count) for t in range(vectors)]
    table = np.empty((sum(int(np.count_nonzero(c > 1)) for c in member_counts), size))
    table_index = np.full(group.shape, -1, dtype=np.int64)
    filled = 0
    for slot, counts in enumerate(member_counts):
        roots = np.flatnonzero(counts > 1)
        if roots.size:
            labels = group[:, slot]
            members = np.flatnonzero((labels >= 0) & (counts[np.maximum(labels, 0)] > 1))
            rank = np.full(count, -1, dtype=np.int64)
            rank[roots] = np.arange(roots.size)
            member_rank = rank[labels[members]]
            values = reader.slot(members, slot)
            rows = table[filled : filled + roots.size]
            for channel in range(size):
                rows[:, channel] = np.bincount(member_rank, weights=values[channel], minlength=roots.size)
            rows /= counts[roots][:, None]
            table_index[members, slot] = filled + member_rank
            filled += roots.size
        progress.advance(count // max(vectors, 1))
    return table, table_index


def _write_means(reader: _VectorReader, table: np.ndarray, table_index: np.ndarray, out: np.ndarray,
                 progress: _Progress) -> None:
    """Fill ``out`` (S, T*V): original vectors, replaced by their group mean where merged."""
    vectors_out = out.reshape(reader.rows, reader.vectors, reader.vector_size)
    for start, stop in reader.block_ranges():
        reader.block(start, stop, vectors_out[start:stop])
        index = table_index[start:stop]
        merged = index >= 0
        vectors_out[start:stop][merged] = table[index[merged]]
        progress.advance(stop - start)


def similarity_concentration(
    x,
    *,
    frame_stride,
    row_stride,
    window=(2, 2, 2),
    vector_size=32,
    threshold=0.9,
    m_tile=1024,
    positions=None,
    progress: ProgressFn | None = None,
) -> SimilarityResult:
    """Similarity concentration (SIC) of retained tokens, exactly as spec 2.3.

    Each token row is cut into ``T = ceil(D / vector_size)`` vectors (the last one
    zero-padded internally).  Vector slot ``t`` of a token (the key) is compared with
    slot ``t`` of the tokens at the linear backward offsets of
    :func:`candidate_offsets`.  A candidate is invalid when its position is < 0, was
    pruned (absent from ``positions``), lies in another m-tile (tiles are consecutive
    runs of ``m_tile`` retained tokens) or is an all-zero vector.  The best
    candidate is the first maximum cosine in offset order; the key is *similar* iff
    that cosine is strictly greater than ``threshold``.  A similar key joins its
    candidate's group (full transitive closure); groups are replaced by the mean of
    their original members.  All arithmetic is float64.

    Parameters
    ----------
    x : array_like, shape (S, D)
        Retained tokens (integers or floats, finite), ascending position order.
    frame_stride, row_stride : int
        FS and HS of the token grid (column stride is 1).
    window : tuple of 3 int, optional
        (bf, bh, bw) comparison window; default (2, 2, 2) = 7 candidates.
    vector_size : int, optional
        V, channels per vector (default 32).
    threshold : float, optional
        theta in [0, 1] (default 0.9).
    m_tile : int, optional
        Retained tokens per GEMM output tile (default 1024).
    positions : array_like of int, shape (S,), optional
        Strictly ascending original positions; default ``arange(S)``.
    progress : callable ``(done, total)``, optional
        Called as the computation advances (for progress bars).

    Returns
    -------
    SimilarityResult
    """
    tokens = _real_array(x, "x", 2)
    count, dim = tokens.shape
    if dim == 0:
        raise ValueError("x must have at least one channel")
    size = _positive_int(vector_size, "vector_size")
    tile = _positive_int(m_tile, "m_tile")
    theta = _check_threshold(threshold)
    offsets = candidate_offsets(frame_stride, row_stride, window)
    if positions is None:
        pos = np.arange(count, dtype=np.int64)
    else:
        pos = _index_array(positions, "positions")
        if pos.size != count:
            raise ValueError(f"positions has {pos.size} entries for {count} tokens")
    reader = _VectorReader(tokens, size)
    tracker = _Progress(progress, count * (len(offsets) + 3))

    candidates = _candidate_rows(pos, offsets, tile)
    norms, zero = _norms_and_zero(reader, tracker)
    best, link, choice = _best_candidates(reader, norms, zero, candidates, theta, tracker)
    del norms
    group = _resolve_groups(link, zero)
    table, table_index = _mean_table(reader, group, tracker)
    padded = np.empty((count, reader.vectors * size))
    _write_means(reader, table, table_index, padded, tracker)
    del table, table_index
    out = padded if padded.shape[1] == dim else np.ascontiguousarray(padded[:, :dim])
    del padded

    similar = link >= 0
    total = similar.size
    sparsity = float(np.count_nonzero(similar) + np.count_nonzero(zero)) / total if total else 0.0
    return SimilarityResult(
        out=out,
        similar=similar,
        zero=zero,
        group=group,
        link=link,
        choice=choice,
        best=best,
        sparsity=sparsity,
        offsets=offsets,
        vector_size=size,
        m_tile=tile,
    )


# --------------------------------------------------------------------------------------
# Compressed GEMM (spec 2.4)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompressedSlice:
    """One K-slice (vector slot) of one output tile, as it leaves the chip.

    Attributes
    ----------
    unique : numpy.ndarray, float64, shape (G, V)
        The group representatives, in order of first appearance in the tile.
    map : numpy.ndarray, int64, shape (rows,)
        For each token row of the tile: its group's index into ``unique``, or
        :data:`ZERO` for an all-zero vector.
    """

    unique: np.ndarray
    map: np.ndarray


@dataclass(frozen=True)
class CompressedMatrix:
    """An (S, D) matrix stored as unique vectors + similarity maps per tile and slot.

    Attributes
    ----------
    shape : tuple of int
        (S, D) of the dense matrix.
    vector_size, m_tile : int
        V and the tile height.
    tiles : tuple of tuple of CompressedSlice
        ``tiles[i][k]`` is K-slice ``k`` of tile ``i``.
    """

    shape: tuple[int, int]
    vector_size: int
    m_tile: int
    tiles: tuple[tuple[CompressedSlice, ...], ...]

    @property
    def n_unique(self) -> int:
        """Stored vectors over all tiles and slots."""
        return sum(piece.unique.shape[0] for tile in self.tiles for piece in tile)

    def decompress(self) -> np.ndarray:
        """The dense (S, D) float64 matrix the compressed form stands for."""
        rows, dim = self.shape
        size = self.vector_size
        dense = np.zeros((rows, -(-dim // size) * size))
        for index, tile in enumerate(self.tiles):
            start = index * self.m_tile
            for slot, piece in enumerate(tile):
                live = piece.map != ZERO
                target = dense[start : start + piece.map.size, slot * size : (slot + 1) * size]
                target[live] = piece.unique[piece.map[live]]
        return dense[:, :dim]


def compress(merged, group, *, vector_size=32, m_tile=1024) -> CompressedMatrix:
    """Build unique vectors + similarity maps per tile and K-slice (spec 2.3 output).

    Parameters
    ----------
    merged : array_like, shape (S, D)
        A matrix that is constant within every group (e.g.
        :attr:`SimilarityResult.out`) and zero on every zero vector.
    group : array_like of int, shape (S, ceil(D / vector_size))
        Group root row of every vector (<= its own row, in the same tile, a root of
        itself), or :data:`ZERO`; e.g. :attr:`SimilarityResult.group`.
    vector_size, m_tile : int, optional
        V and the tile height the groups were formed with.

    Returns
    -------
    CompressedMatrix

    Raises
    ------
    ValueError
        If the groups are malformed or ``merged`` is not constant within a group.
    """
    matrix = _real_array(merged, "merged", 2)
    size = _positive_int(vector_size, "vector_size")
    tile = _positive_int(m_tile, "m_tile")
    count, dim = matrix.shape
    reader = _VectorReader(matrix, size)
    roots = np.asarray(group)
    if roots.shape != (count, reader.vectors) or not np.issubdtype(roots.dtype, np.integer):
        raise ValueError(f"group must be an integer array of shape {(count, reader.vectors)}")
    _check_groups(roots, tile)
    dense = reader.block(0, count)
    tiles = []
    for start in range(0, count, tile):
        stop = min(count, start + tile)
        tiles.append(tuple(_compress_slice(dense[start:stop, slot], roots[start:stop, slot] - start)
                           for slot in range(reader.vectors)))
    return CompressedMatrix(shape=(count, dim), vector_size=size, m_tile=tile, tiles=tuple(tiles))


def _check_groups(group: np.ndarray, m_tile: int) -> None:
    """Require every group root to be an earlier-or-same row of the same tile, rooted at itself."""
    rows = np.arange(group.shape[0])[:, None]
    live = group != ZERO
    if np.any(group[live] < 0):
        raise ValueError(f"group entries must be row indices or ZERO ({ZERO})")
    safe = np.where(live, group, rows)
    if np.any(safe > rows) or np.any(safe // m_tile != rows // m_tile):
        raise ValueError("every group must point backwards to a row in the same m-tile")
    if np.any(np.take_along_axis(safe, safe, axis=0) != safe):
        raise ValueError("every group root must be its own group")


def _compress_slice(vectors: np.ndarray, local_roots: np.ndarray) -> CompressedSlice:
    """Compact table + map for one tile slot (``local_roots`` relative to the tile)."""
    live = local_roots >= 0
    if np.any(vectors[~live] != 0):
        raise ValueError("merged must be zero on every ZERO vector")
    safe = np.where(live, local_roots, 0)
    if np.any(vectors[live] != vectors[safe[live]]):
        raise ValueError("merged is not constant within a group")
    firsts = np.unique(local_roots[live])  # ascending root row = order of first appearance
    mapping = np.where(live, np.searchsorted(firsts, safe), ZERO).astype(np.int64)
    return CompressedSlice(unique=vectors[firsts].copy(), map=mapping)


def compressed_gemm(a, w) -> np.ndarray:
    """Compressed GEMM ``Y = X W`` of spec 2.4, in float64.

    For every output tile and K-slice ``k``: the unique vectors ``U_k`` are
    multiplied with ``W[k-slice]`` (one partial-sum row per unique vector) and the
    scatter accumulator adds partial sum ``P_k[map_k[t]]`` into output row ``t``
    (nothing for ZERO).  K-slices are accumulated in ascending order.

    Parameters
    ----------
    a : CompressedMatrix or SimilarityResult
        The compressed input (a result is compressed with :meth:`SimilarityResult.compress`).
    w : array_like, shape (D, N)
        Weights; rows beyond D of the zero-padded last K-slice are taken as zero.

    Returns
    -------
    numpy.ndarray, float64, shape (S, N)
        Equal to ``a.decompress() @ w`` up to float64 summation order (exactly equal
        when every partial sum is exactly representable, e.g. small integers).
    """
    if isinstance(a, SimilarityResult):
        a = a.compress()
    if not isinstance(a, CompressedMatrix):
        raise TypeError("a must be a CompressedMatrix or a SimilarityResult")
    weights = _real_array(w, "w", 2)
    rows, dim = a.shape
    if weights.shape[0] != dim:
        raise ValueError(f"w has {weights.shape[0]} rows, expected D = {dim}")
    size = a.vector_size
    slots = -(-dim // size)
    padded = np.zeros((slots * size, weights.shape[1]))
    padded[:dim] = weights
    result = np.zeros((rows, weights.shape[1]))
    for index, tile in enumerate(a.tiles):
        start = index * a.m_tile
        for slot, piece in enumerate(tile):
            partial = piece.unique @ padded[slot * size : (slot + 1) * size]
            _scatter_add(result[start : start + piece.map.size], piece.map, partial)
    return result


def _scatter_add(target: np.ndarray, mapping: np.ndarray, partial: np.ndarray) -> None:
    """Add ``partial[mapping[t]]`` into ``target[t]`` for every non-ZERO row ``t``."""
    live = mapping != ZERO
    target[live] += partial[mapping[live]]
