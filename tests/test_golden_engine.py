"""Golden models of the scatter accumulator, requantizer and engine vs. independent references."""

from fractions import Fraction

import numpy as np
import pytest

from golden.algorithm import ZERO
from golden.arith import Int8Arith
from golden.engine import engine_tile
from golden.scatter import scatter_tile

pytestmark = pytest.mark.golden
INT8 = Int8Arith


def reference_requantize(x, multiplier, shift):
    """Exact rational arithmetic; Python's round() is round-half-to-even."""
    return max(-128, min(127, round(Fraction(int(x) * multiplier, 1 << shift))))


@pytest.mark.parametrize("shift", [0, 1, 2, 7, 13, 31, 47, 63])
def test_requantize_matches_exact_rounding(shift):
    rng = np.random.default_rng(shift)
    x = np.concatenate([rng.integers(-(1 << 31), 1 << 31, size=2000),
                        np.arange(-40, 41), [-(1 << 31), (1 << 31) - 1]])
    multiplier = int(rng.integers(1, 1 << 16))
    got = INT8.requantize(x, multiplier, shift)
    want = [reference_requantize(v, multiplier, shift) for v in x]
    assert list(got) == want


def test_requantize_ties_go_to_even():
    assert list(INT8.requantize(np.array([1, 3, 5, -1, -3, -5]), 1, 1)) == [0, 2, 2, 0, -2, -2]
    assert list(INT8.requantize(np.array([300, -300]), 1, 0)) == [127, -128]


def test_scatter_matches_a_per_token_loop():
    rng = np.random.default_rng(3)
    tokens, cols = 20, 3
    psums, maps = [], []
    for _ in range(3):
        uniques = int(rng.integers(1, tokens))
        psums.append(INT8.random_accumulators(rng, (uniques, cols)))
        maps.append(np.where(rng.random(tokens) < 0.2, ZERO,
                             rng.integers(0, uniques, size=tokens)))
    want = np.zeros((tokens, cols), dtype=np.int64)
    for table, mapping in zip(psums, maps):
        for t, g in enumerate(mapping):
            if g != ZERO:
                want[t] += table[g]
    np.testing.assert_array_equal(scatter_tile(INT8, psums, maps), want)


def test_scatter_rejects_inconsistent_slices():
    table = np.zeros((2, 1), dtype=np.int64)
    with pytest.raises(ValueError, match="map names group 2"):
        scatter_tile(INT8, [table], [np.array([0, 2])])
    with pytest.raises(ValueError, match="same tokens"):
        scatter_tile(INT8, [table, table], [np.array([0]), np.array([0, 1])])


def test_concentrated_engine_equals_dense_gemm_on_merged_input():
    rng = np.random.default_rng(4)
    tokens, rows, cols = 24, 4, 5
    uniques, maps, merged = [], [], np.zeros((tokens, 0), dtype=np.int64)
    tiles = [INT8.random_operands(rng, (rows, cols)) for _ in range(3)]
    for _ in tiles:
        table = INT8.random_operands(rng, (int(rng.integers(1, tokens)), rows))
        mapping = np.where(rng.random(tokens) < 0.1, ZERO,
                           rng.integers(0, len(table), size=tokens))
        dense = np.where((mapping == ZERO)[:, None], 0, table[mapping])
        uniques.append(table)
        maps.append(mapping)
        merged = np.hstack([merged, dense])
    want = INT8.requantize(merged @ np.vstack(tiles), 3, 9)
    np.testing.assert_array_equal(
        engine_tile(INT8, tiles, uniques, maps, scale={"multiplier": 3, "shift": 9}), want)
