"""Regression of the FocusEngine top level (cocotb under Verilator)."""

import pytest

from gen.config import CONFIGS
from gen.generate import block_design
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.engine

# dtype, rows (= V), cols, m_tile, scatter lanes, K-slices, gather matchers, input geometry
CASES = [("int8", 4, 4, 32, 2, 4, 1, "tiny"),
         ("fp16", 4, 4, 32, 2, 4, 7, "tiny"),
         ("int8", 8, 8, 64, 2, 8, 7, "small")]      # the medium size of the issue


@pytest.mark.parametrize("dtype,rows,cols,m_tile,lanes,slices,matchers,geometry", CASES,
                         ids=[f"{c[0]}-{c[1]}x{c[2]}-m{c[3]}-l{c[4]}-k{c[5]}-g{c[6]}"
                              for c in CASES])
def test_focus_engine(dtype, rows, cols, m_tile, lanes, slices, matchers, geometry, seed,
                      test_dir):
    config = CONFIGS["paper"].replace(dtype=dtype, rows=rows, cols=cols, m_tile=m_tile,
                                      scatter_lanes=lanes, matchers=matchers,
                                      window_vectors=64, max_tokens=512,
                                      matcher_width=None, collector_lanes=None)
    run_testbench(block_design(config, "focus_engine"), "sim_cocotb.tb_engine",
                  params={"dtype": dtype, "rows": rows, "cols": cols, "m_tile": m_tile,
                          "lanes": lanes, "slices": slices, "window": list(config.window),
                          "geometry": geometry},
                  seed=seed, test_dir=test_dir)
