"""Bit-exact model of the SIC gather hardware (``rtl.similarity_gather.SimilarityGather``).

The tensor-level model (:func:`golden.algorithm.similarity_concentration`) states the intent
of spec 2.3 in float64; this module states, bit for bit, what the hardware computes for
one vector slot of a token sequence:

* **Dot products and squared norms** are computed with the format's own multiplier and
  adder (a ``golden.arith`` number format) in the fixed balanced pairwise tree of
  :func:`dot_products` (int8: exact int32; fp16: exact fp16 x fp16 -> fp32 products and fp32
  round-to-nearest-even additions).
* **The similarity test** (spec 3.2, no division, no square root) is evaluated *exactly* on
  those values: candidate ``y`` passes for key ``x`` iff ``dot > 0`` and
  ``dot**2 * 2**16 > t * |x|^2 * |y|^2`` where ``t`` is the ``theta2`` register (theta**2 in
  unsigned Q0.16, see :func:`theta_register`). The best candidate is the first (in offset
  order) passing candidate with the largest ``dot**2 / |y|^2``, compared exactly by cross
  multiplication. For fp16 the fp32 values are split into integer significand and exponent,
  so the products are exact too: the only roundings of the whole test are those of the
  adder tree, and the decision does not depend on how many matchers the hardware has.
* **Candidates** are the linear offsets of :func:`golden.algorithm.candidate_offsets`; one
  is invalid when no retained token of the same tile sits there, or when that token is an
  all-zero vector or (fp16) holds an infinity or NaN. A key that is all-zero or non-finite
  passes with nobody.
* **Groups, compact indices and the map** follow spec 2.3 (a similar key joins its chosen
  candidate's group; indices in order of first appearance; :func:`zero_code` for all-zero
  vectors).
* **Representatives** are the exact group sums (int8: integers; fp16: fixed point with
  2**-24 resolution, :meth:`golden.arith.Fp16Sic.fixed`) divided by the member count and
  rounded once, to nearest even, into the operand format: the correctly rounded mean (error
  <= 0.5 ulp).
  A zero mean element is ``+0``. fp16 infinities and NaNs only occur in singleton groups;
  they are passed through (NaN as the canonical ``0x7E00``).

Public API
----------
:data:`THETA_BITS`, :func:`theta_register`, :func:`map_bits`, :func:`zero_code`,
:func:`window_span`, :func:`register_errors`, :func:`dot_products`, :class:`SicTile`,
:func:`gather`. Everything that depends on the number format comes from the format
object passed in (``golden.arith``; its SIC hooks are ``arith.sic``).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from golden.algorithm import candidate_offsets

__all__ = ["THETA_BITS", "theta_register", "map_bits", "zero_code", "window_span",
           "register_errors", "dot_products", "SicTile", "gather"]

#: Fraction bits of the ``theta2`` register (theta squared, unsigned Q0.16).
THETA_BITS = 16


def theta_register(theta):
    """The ``theta2`` register for threshold ``theta``: ``round(theta**2 * 2**16)``.

    Rounded to nearest (ties to even) from the exact binary value of ``theta`` and clamped
    to ``[0, 2**16 - 1]``; the hardware threshold is then ``sqrt(theta2 / 2**16)``
    (0.9 -> 53084, an effective theta of 0.8999987).
    """
    value = Fraction(theta)
    if not 0 <= value <= 1:
        raise ValueError(f"theta must be in [0, 1], got {theta!r}")
    return min(round(value * value * (1 << THETA_BITS)), (1 << THETA_BITS) - 1)


def map_bits(m_tile):
    """Width of a similarity-map entry: compact indices ``0 .. m_tile - 1`` plus ZERO."""
    return int(m_tile).bit_length()


def zero_code(m_tile):
    """The reserved map code of an all-zero vector: all ones, ``2**map_bits - 1 >= m_tile``."""
    return (1 << map_bits(m_tile)) - 1


def window_span(frame_stride, row_stride, window):
    """Positions the layouter must hold: ``(bf-1)*FS + (bh-1)*HS + bw`` (spec 3.1)."""
    frames, rows, cols = window
    return (frames - 1) * frame_stride + (rows - 1) * row_stride + cols


def register_errors(*, window, window_vectors, m_tile, frame_stride, row_stride,
                    tile_length):
    """Why the hardware cannot honour these runtime registers (empty list: it can).

    Mirrors the conditions that raise the hardware's ``error`` flag at a tile start.
    """
    frames, rows, _ = window
    errors = []
    if frames > 1 and frame_stride < 1:
        errors.append(f"frame stride {frame_stride} must be >= 1 for window {window}")
    if rows > 1 and row_stride < 1:
        errors.append(f"row stride {row_stride} must be >= 1 for window {window}")
    span = window_span(frame_stride, row_stride, window)
    if span > window_vectors:
        errors.append(f"window {window} with frame stride {frame_stride} and row stride "
                      f"{row_stride} spans {span} positions; the layouter holds "
                      f"window_vectors = {window_vectors}")
    if not 1 <= tile_length <= m_tile:
        errors.append(f"tile length {tile_length} must be in [1, m_tile = {m_tile}]")
    return errors


# --------------------------------------------------------------------------------------
# Arithmetic of the matcher
# --------------------------------------------------------------------------------------


def dot_products(arith, a, b):
    """``sum_i a[..., i] * b[..., i]`` in the hardware's balanced pairwise tree.

    Level 0 holds the products in element order; every level adds neighbours
    ``(0, 1), (2, 3), ...`` and passes an odd last term on unchanged, until one term is left
    (``rtl.arith.dot_product.DotProduct``). Every addition is the format's adder.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    terms = [arith.multiply(a[..., i], b[..., i]) for i in range(a.shape[-1])]
    while len(terms) > 1:
        paired = [arith.add(terms[i], terms[i + 1]) for i in range(0, len(terms) - 1, 2)]
        terms = paired + terms[len(terms) - len(terms) % 2:]
    return np.asarray(terms[0], dtype=np.int64)


def _greater(a, a_exp, b, b_exp):
    """Exact ``a * 2**a_exp > b * 2**b_exp`` for object arrays of non-negative ints."""
    shift = np.asarray(a_exp, dtype=np.int64) - np.asarray(b_exp, dtype=np.int64)
    left = np.maximum(shift, 0).astype(object)
    right = np.maximum(-shift, 0).astype(object)
    return np.asarray(np.left_shift(a, left) > np.left_shift(b, right), dtype=bool)


# --------------------------------------------------------------------------------------
# The gather unit
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SicTile:
    """What the hardware emits for one tile (and why).

    Attributes
    ----------
    unique : numpy.ndarray of int64, shape (u, V)
        The representatives in order of first appearance, as operand patterns (int8:
        signed values; fp16: binary16 bit patterns).
    map : numpy.ndarray of int64, shape (n,)
        Compact index of every token's group, or :func:`zero_code`.
    similar, zero : numpy.ndarray of bool, shape (n,)
        The token merged into an earlier group; the token's vector is all-zero.
    choice : numpy.ndarray of int64, shape (n,)
        Index (offset order) of the chosen candidate of a similar token, else -1.
    link : numpy.ndarray of int64, shape (n,)
        Tile row of the chosen candidate, else -1.
    """

    unique: np.ndarray
    map: np.ndarray
    similar: np.ndarray
    zero: np.ndarray
    choice: np.ndarray
    link: np.ndarray


def gather(arith, vectors, positions, *, window, m_tile, frame_stride, row_stride, theta2,
           tile_length=None):
    """The hardware's output for one sequence (``first`` .. ``last``) of one vector slot.

    Parameters
    ----------
    arith : golden.arith.NumberFormat
        The operand format (its arithmetic and its SIC hooks ``arith.sic``).
    vectors : array_like of int, shape (S, V)
        Operand patterns (``arith.to_operands``), in position order.
    positions : array_like of int, shape (S,)
        Strictly ascending original positions.
    window : tuple of 3 int
        (bf, bh, bw).
    m_tile : int
        Generator parameter (width of the map codes).
    frame_stride, row_stride, theta2, tile_length : int
        The runtime registers; ``tile_length`` defaults to ``m_tile``. Tiles are consecutive
        runs of ``tile_length`` tokens (the last one may be shorter).

    Returns
    -------
    list of SicTile
    """
    fmt = arith.sic
    data = np.asarray(vectors, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.int64)
    if data.ndim != 2 or pos.shape != data.shape[:1]:
        raise ValueError(f"vectors {data.shape} and positions {pos.shape} do not match")
    if pos.size and (pos[0] < 0 or np.any(np.diff(pos) <= 0)):
        raise ValueError("positions must be non-negative and strictly ascending")
    tile_length = m_tile if tile_length is None else int(tile_length)
    if not 1 <= tile_length <= m_tile:
        raise ValueError(f"tile_length must be in [1, {m_tile}], got {tile_length}")
    count = data.shape[0]
    rows = np.arange(count)
    tile = rows // tile_length

    # Candidate rows (offset order), -1 where no retained token of the same tile is there.
    offsets = candidate_offsets(max(frame_stride, 1), max(row_stride, 1), window)
    wanted = pos[:, None] - offsets[None, :]
    found = np.minimum(np.searchsorted(pos, wanted), max(count - 1, 0))
    hit = (wanted >= 0) & (pos[found] == wanted) & (tile[found] == tile[:, None])
    zero = fmt.zero(data)
    usable = ~zero & ~fmt.special(data)
    valid = hit & usable[found] & usable[:, None]

    # Exact similarity test and first-maximum selection, candidate by candidate.
    _, norm_m, norm_e = fmt.decode(dot_products(arith, data, data))
    theta = np.full(count, int(theta2), dtype=object)
    best = np.full(count, -1, dtype=np.int64)
    best_p = np.zeros(count, dtype=object)     # significand of dot**2
    best_pe = np.zeros(count, dtype=np.int64)  # its exponent
    best_q = np.zeros(count, dtype=object)     # significand of |y|^2
    best_qe = np.zeros(count, dtype=np.int64)
    for index in range(offsets.size):
        keys = np.flatnonzero(valid[:, index])
        if keys.size == 0:
            continue
        cand = found[keys, index]
        negative, dot_m, dot_e = fmt.decode(dot_products(arith, data[keys], data[cand]))
        p, pe = dot_m * dot_m, 2 * dot_e
        q, qe = norm_m[cand], norm_e[cand]
        passes = ~negative & (dot_m != 0)
        passes &= _greater(p, pe + THETA_BITS, theta[keys] * norm_m[keys] * q,
                           norm_e[keys] + qe)
        first = best[keys] < 0
        better = passes & ~first
        if np.any(better):
            better[better] = _greater(p[better] * best_q[keys][better],
                                      pe[better] + best_qe[keys][better],
                                      best_p[keys][better] * q[better],
                                      best_pe[keys][better] + qe[better])
        take = passes & (first | better)
        chosen = keys[take]
        best[chosen] = index
        best_p[chosen], best_pe[chosen] = p[take], pe[take]
        best_q[chosen], best_qe[chosen] = q[take], qe[take]

    similar = best >= 0
    link = np.where(similar, found[rows, np.maximum(best, 0)], -1)
    root = np.where(similar, link, rows)
    while True:  # transitive closure: every link points backwards, so this converges
        deeper = root[root]
        if np.array_equal(deeper, root):
            break
        root = deeper

    fixed = fmt.fixed(data)
    results = []
    for start in range(0, count, tile_length):
        stop = min(count, start + tile_length)
        span = slice(start, stop)
        live = ~zero[span]
        roots = np.unique(root[span][live])  # ascending = order of first appearance
        code = np.full(stop - start, zero_code(m_tile), dtype=np.int64)
        code[live] = np.searchsorted(roots, root[span][live])
        members = np.flatnonzero(live) + start
        sums = np.zeros((roots.size, data.shape[1]), dtype=np.int64)
        np.add.at(sums, code[live], fixed[members])
        counts = np.bincount(code[live], minlength=roots.size).astype(np.int64)
        unique = fmt.mean(sums, counts[:, None], data[roots])
        results.append(SicTile(
            unique=np.asarray(unique, dtype=np.int64).reshape(roots.size, data.shape[1]),
            map=code, similar=similar[span].copy(), zero=zero[span].copy(),
            choice=best[span].copy(),
            link=np.where(similar[span], link[span] - start, -1)))
    return results
