"""Regression of the FocusEngine top level (cocotb under Verilator)."""

import pytest

from rtl.arith import get_format
from rtl.focus_engine import FocusEngine
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.engine

# dtype, rows (= V), cols, m_tile, scatter lanes, K-slices
CASES = [("int8", 4, 4, 32, 2, 4), ("fp16", 4, 4, 32, 2, 4)]


@pytest.mark.parametrize("dtype,rows,cols,m_tile,lanes,slices", CASES,
                         ids=[f"{c[0]}-{c[1]}x{c[2]}-m{c[3]}-l{c[4]}-k{c[5]}" for c in CASES])
def test_focus_engine(dtype, rows, cols, m_tile, lanes, slices, seed, test_dir):
    dut = FocusEngine(get_format(dtype), rows=rows, cols=cols, m_tile=m_tile, lanes=lanes)
    run_testbench(dut, "focus_engine", "sim_cocotb.tb_engine",
                  params={"dtype": dtype, "rows": rows, "cols": cols, "m_tile": m_tile,
                          "lanes": lanes, "slices": slices},
                  seed=seed, test_dir=test_dir)
