"""Stimuli for the SIC gather unit (NumPy only): realistic and directed sequences.

A *case* is a :class:`SicCase`: runtime registers plus a list of sequences, each a pair
``(vectors, positions)`` of operand patterns and strictly ascending original positions.
Every generator takes the golden number format ``arith`` (``golden.arith``) and asks it for
everything format-dependent (operand encoding, extreme and special values). The cocotb
testbench (``tb_sic``), the golden-model tests (``tests/test_golden_sic.py``) and the
benchmark (``bench_sic``) share them.
"""

import dataclasses

import numpy as np

from golden import sic
from golden.algorithm import candidate_offsets
from golden.workloads import GEOMETRIES, video_tokens


@dataclasses.dataclass
class SicCase:
    """Runtime registers and the sequences of one run."""

    name: str
    frame_stride: int
    row_stride: int
    theta2: int
    tile_length: int
    sequences: list

    def expected(self, arith, *, window, m_tile):
        """``golden.sic.gather`` of every sequence, as one list of tiles."""
        return [tile for vectors, positions in self.sequences
                for tile in sic.gather(arith, vectors, positions, window=window,
                                       m_tile=m_tile, frame_stride=self.frame_stride,
                                       row_stride=self.row_stride, theta2=self.theta2,
                                       tile_length=self.tile_length)]


def random_direction(rng, size, count):
    """``count`` random unit vectors of ``size`` elements (float64)."""
    values = rng.standard_normal((count, size))
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def encode(values, arith, peak=None):
    """Operand patterns of real vectors (``arith.to_operands``): a fixed-point format
    (int8) scales them so that ``peak`` (default: the largest magnitude) maps to 100."""
    values = np.asarray(values, dtype=np.float64)
    if peak is None:
        peak = float(np.max(np.abs(values))) if values.size else 0.0
    return arith.to_operands(values, scale=100.0 / peak if peak > 0 else 1.0)


def realistic(rng, *, arith, vector_size, geometry="tiny", slots=2, keep=0.7, seed=0,
              theta=0.9, tile_length=None, m_tile=32):
    """Video-like tokens from photographs (``golden.workloads``), randomly pruned.

    Every vector slot of the tokens is one sequence; a fraction ``1 - keep`` of the
    positions is pruned (holes), the same for every slot, like SEC would.
    """
    shape = GEOMETRIES[geometry]
    tokens = video_tokens(shape, vector_size * slots, seed=seed)
    operands = arith.to_operands(tokens)
    kept = np.flatnonzero(rng.random(tokens.shape[0]) < keep)
    sequences = [(operands[kept, t * vector_size:(t + 1) * vector_size], kept)
                 for t in range(slots)]
    return SicCase(f"realistic-{geometry}", shape.frame_stride, shape.row_stride,
                   sic.theta_register(theta), tile_length or m_tile, sequences)


def copy_chains(rng, *, arith, vector_size, window, frame_stride, row_stride, tokens,
                copy=0.6, noise=0.05, keep=0.85, zero=0.05, theta=0.9, tile_length=32):
    """Tokens that copy (with noise) a random candidate position: merges, chains, wraps.

    Walking the positions in order, each token is, with probability ``copy``, the vector at
    a random candidate offset (row and frame wrap-arounds included, since offsets are
    linear) plus ``noise``; otherwise a fresh random direction. A fraction ``zero`` are
    all-zero vectors and ``1 - keep`` of the positions are pruned. Exact copies of exact
    copies make ties between candidates; copies of copies make chains across frames.
    """
    offsets = candidate_offsets(frame_stride, row_stride, window)
    values = np.zeros((tokens, vector_size))
    for position in range(tokens):
        choices = offsets[offsets <= position]
        if choices.size and rng.random() < copy:
            source = values[position - int(rng.choice(choices))]
            jitter = noise * rng.standard_normal(vector_size) if rng.random() < 0.7 else 0.0
            values[position] = source + jitter
        else:
            values[position] = random_direction(rng, vector_size, 1)[0]
    values[rng.random(tokens) < zero] = 0.0
    kept = np.flatnonzero(rng.random(tokens) < keep)
    operands = encode(values, arith, peak=2.0)
    return SicCase("copy-chains", frame_stride, row_stride, sic.theta_register(theta),
                   tile_length, [(operands[kept], kept)])


def cone(rng, *, arith, vector_size, window, frame_stride, row_stride, invalidate=None,
         how="prune", favourite=None, spread=20.0, step=1.0):
    """A key whose candidates all pass, ranked, around a cone.

    The key sits at the corner ``(bf-1, bh-1, bw-1)`` of the window. Candidate ``c`` is
    ``cos(a_c) * key + sin(a_c) * u_c`` with orthonormal ``u_c`` (orthogonal to the key)
    and ``a_c = spread + rank_c * step`` degrees, where the ``favourite`` candidate (default:
    the invalidated one, else 0) has rank 0 and the others follow in offset order; in
    ``vector_size >= C + 1`` dimensions the candidates are mutually less similar
    (``cos a_i cos a_j``) than theta = cos(spread + C * step + 1 degree), so each is its own
    group and the key's map code shows which one it chose. ``invalidate`` names a candidate
    that is made invalid by ``how``: ``"prune"`` (position absent), ``"zero"`` (all-zero
    vector) or ``"tile"`` (the tile starts after it).
    """
    offsets = candidate_offsets(frame_stride, row_stride, window)
    count = offsets.size
    key_position = int(offsets.max())
    basis = np.linalg.qr(rng.standard_normal((vector_size, vector_size)))[0].T
    key = basis[0]
    others = basis[1:]
    if favourite is None:
        favourite = 0 if invalidate is None else invalidate
    ranking = [favourite] + [c for c in range(count) if c != favourite]
    values = {}
    for c, offset in enumerate(offsets):
        angle = np.radians(spread + ranking.index(c) * step)
        direction = others[c % len(others)]
        values[key_position - int(offset)] = np.cos(angle) * key + np.sin(angle) * direction
    values[key_position] = key
    if invalidate is not None and how == "zero":
        values[key_position - int(offsets[invalidate])] = np.zeros(vector_size)
    positions = sorted(values)
    if invalidate is not None and how == "prune":
        positions.remove(key_position - int(offsets[invalidate]))
    operands = encode(np.array([values[p] for p in positions]), arith, peak=1.0)
    positions = np.array(positions)
    tile_length = len(positions)
    if invalidate is not None and how == "tile":
        # Tile 0 ends with the invalidated candidate; fresh tokens in front pad it to the
        # tile length (tiles are runs of tile_length tokens).
        lead = int(np.searchsorted(positions, key_position - int(offsets[invalidate]))) + 1
        tile_length = max(lead, len(positions) - lead)
        pad = tile_length - lead
        if pad:
            operands = np.concatenate([encode(random_direction(rng, vector_size, pad), arith),
                                       operands])
            positions = np.concatenate([np.arange(pad), positions + pad])
    theta = np.cos(np.radians(spread + count * step + 0.5))
    return SicCase(f"cone-{how}-{invalidate}", frame_stride, row_stride,
                   sic.theta_register(theta), max(tile_length, 1), [(operands, positions)])


def uniform(rng, *, arith, vector_size, tokens, similar, tile_length, frame_stride=12,
            row_stride=4):
    """All tokens identical (``similar``: one group per tile, threshold 0) or no two similar.

    The dissimilar variant uses random directions and theta just below 1 (``theta2`` =
    2**16 - 1), so every tile needs one table entry per token: the worst case.
    """
    if similar:
        values = np.tile(np.abs(random_direction(rng, vector_size, 1)), (tokens, 1))
        theta2 = 0
    else:
        values = random_direction(rng, vector_size, tokens)
        theta2 = (1 << sic.THETA_BITS) - 1
    operands = encode(values, arith, peak=1.0)
    return SicCase("all-similar" if similar else "none-similar", frame_stride, row_stride,
                   theta2, tile_length, [(operands, np.arange(tokens))])


def exact_ties(rng, *, arith, vector_size, window, frame_stride, row_stride, pairs=None):
    """Exact ties between candidates of different groups, and exact threshold equalities.

    The key ``s * (e0 + e1)`` sits at the window's corner. For a pair ``(i, j)`` of candidate
    indices, candidate ``i`` is ``a * e0`` and ``j`` is ``b * e1`` (random scales): both have
    cosine 1/sqrt(2) with the key, exactly, and are orthogonal to each other, so the key must
    join ``i`` (the first maximum). Every other candidate is ``-(e0 + e1)`` (negative dot).
    With ``i == j`` only candidate ``i`` is set and ``theta2`` is 2**15 or 2**15 - 1, i.e.
    ``cos**2`` equals theta**2 exactly (not similar: the test is strict) or just exceeds it.
    One sequence per pair; ``theta2`` = 2**14 for the tie cases. The scales are integers
    times 0.1 (a fixed-point format encodes 1.0 as 100, so its operands are the integers
    times 10, exactly).
    """
    if vector_size < 2:
        raise ValueError("exact ties need vector_size >= 2")
    offsets = candidate_offsets(frame_stride, row_stride, window)
    count = offsets.size
    key_position = int(offsets.max())
    if pairs is None:
        pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
    built = []
    for i, j in pairs:
        values = {key_position - int(o): -np.eye(vector_size)[0] - np.eye(vector_size)[1]
                  for o in offsets}
        values[key_position] = rng.integers(1, 5) * (np.eye(vector_size)[0]
                                                     + np.eye(vector_size)[1])
        values[key_position - int(offsets[i])] = rng.integers(1, 9) * np.eye(vector_size)[0]
        if j != i:
            values[key_position - int(offsets[j])] = rng.integers(1, 9) * np.eye(vector_size)[1]
        positions = np.array(sorted(values))
        vectors = np.array([values[p] for p in positions]) * 0.1
        built.append((encode(vectors, arith, peak=1.0), positions))
    return built


def extreme_operands(rng, *, arith, vector_size, window, frame_stride, row_stride, tokens,
                     theta=0.5, tile_length=32):
    """Copy chains over the format's extreme operands.

    Elements are ``arith.extreme_operands`` (int8: {-128, -127, -1, 0, 1, 127}; fp16:
    subnormals, signed zeros, the largest normals, pairs that cancel); some vectors are all
    ``arith.negative_zero``, and, when the format has ``special_operands`` (fp16:
    infinities, NaNs), some vectors hold one (never similar to anything: each must come out
    unchanged as its own group, NaN canonical). A copied vector has one element replaced by
    a fresh extreme operand, so group sums cancel and round at the edges of the format.
    """
    offsets = candidate_offsets(frame_stride, row_stride, window)

    def fresh(count):
        return arith.extreme_operands(rng, (count, vector_size))
    vectors = fresh(tokens)
    for position in range(tokens):
        choices = offsets[offsets <= position]
        roll = rng.random()
        if choices.size and roll < 0.6:
            vectors[position] = vectors[position - int(rng.choice(choices))]
            vectors[position, rng.integers(vector_size)] = fresh(1)[0, 0]
        elif roll < 0.65:
            vectors[position] = arith.negative_zero
        elif arith.special_operands and roll < 0.72:
            vectors[position, rng.integers(vector_size)] = rng.choice(arith.special_operands)
    return SicCase(f"extremes-{arith.name}", frame_stride, row_stride, sic.theta_register(theta),
                   tile_length, [(vectors, np.arange(tokens))])
