"""Properties of the systolic-array golden model against plain NumPy matrix products."""

import numpy as np
import pytest

from golden.arith import Int8Arith
from golden.systolic_array import fold, systolic_array

pytestmark = pytest.mark.golden


def test_int8_fold_equals_integer_matmul():
    rng = np.random.default_rng(1)
    arith = Int8Arith
    for rows, cols, p in [(2, 2, 1), (4, 8, 17), (32, 32, 64)]:
        w = arith.random_operands(rng, (rows, cols))
        a = arith.random_operands(rng, (p, rows))
        np.testing.assert_array_equal(fold(arith, w, a), a @ w)


def test_int8_extremes_do_not_wrap_within_k_of_the_spec():
    arith = Int8Arith
    k = 18944  # largest published K
    w = np.full((k, 1), -128)
    a = np.full((1, k), -128)
    assert fold(arith, w, a)[0, 0] == 128 * 128 * k


def test_int8_accumulator_wraps_like_int32():
    arith = Int8Arith
    assert arith.add(2**31 - 1, 1) == -(2**31)
    assert arith.add(-(2**31), -1) == 2**31 - 1


def test_sequence_of_folds_uses_one_tile_each():
    rng = np.random.default_rng(2)
    arith = Int8Arith
    tiles = [arith.random_operands(rng, (4, 4)) for _ in range(3)]
    folds = [arith.random_operands(rng, (p, 4)) for p in (1, 5, 2)]
    for out, w, a in zip(systolic_array(arith, tiles, folds), tiles, folds):
        np.testing.assert_array_equal(out, a @ w)
    with pytest.raises(ValueError, match="2 weight tiles for 3 folds"):
        systolic_array(arith, tiles[:2], folds)
    with pytest.raises(ValueError, match="do not chain"):
        fold(arith, tiles[0], np.zeros((2, 3), dtype=np.int64))
