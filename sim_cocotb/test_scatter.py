"""Regression of the scatter accumulator (cocotb under Verilator)."""

import pytest

from gen.config import CONFIGS
from gen.generate import block_design
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.engine

CASES = [("int8", 4, 16, 2), ("int8", 3, 13, 3), ("int8", 2, 8, 1)]


@pytest.mark.parametrize("dtype,cols,m_tile,lanes", CASES,
                         ids=[f"{d}-c{c}-m{m}-l{l}" for d, c, m, l in CASES])
def test_scatter_accumulator(dtype, cols, m_tile, lanes, seed, test_dir):
    config = CONFIGS["tiny"].replace(dtype=dtype, cols=cols, m_tile=m_tile, scatter_lanes=lanes)
    run_testbench(block_design(config, "scatter_accumulator"), "sim_cocotb.tb_scatter",
                  params={"dtype": dtype, "cols": cols, "m_tile": m_tile, "lanes": lanes},
                  seed=seed, test_dir=test_dir)
