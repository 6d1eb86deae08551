"""The SIC gather budget (perf/gather_budget.py, ``python -m perf gather``), by hand."""

import numpy as np
import pytest

from perf.gather_budget import gather_stall, tile_compute

pytestmark = pytest.mark.perf


def test_tile_compute_takes_the_fold_the_reload_floor_and_the_scatter():
    tokens = np.array([100, 100])
    unique = np.array([[10, 0, 200], [50, 60, 70]])
    # array view: max(u, 40) per folded slice, empty slices skipped
    assert tile_compute(tokens, unique, min_period=40).tolist() == [40 + 0 + 200, 50 + 60 + 70]
    # engine view: every slice costs at least ceil(100 / 3) = 34 scatter cycles (as in
    # perf.engine_model, the scatter runs over every slice's map)
    assert tile_compute(tokens, unique, min_period=20, lanes=3).tolist() == [
        34 + 34 + 200, 50 + 60 + 70]


def test_gather_stall_overlaps_each_gather_with_the_next_tiles_compute():
    tokens = np.array([10, 10, 10])
    compute = np.array([100.0, 50.0, 200.0])
    # gathers 10 * 8 + 5 = 85: tile 1 computes 50 (stalls 35), tile 2 computes 200 (none)
    assert gather_stall(tokens, compute, key_interval=8, flush=5) == 35
    assert gather_stall(tokens, compute, key_interval=4, flush=5) == 0
