"""Regression of the systolic array: cocotb under Verilator for several shapes."""

import pytest

from rtl.arith import get_format
from rtl.systolic_array import SystolicArray
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.array

SHAPES = [(2, 2), (4, 4), (4, 8), (8, 8)]
DTYPES = ["int8"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_systolic_array(dtype, rows, cols, seed, test_dir):
    dut = SystolicArray(get_format(dtype), rows=rows, cols=cols)
    run_testbench(dut, "focus_systolic_array", "sim_cocotb.tb_array",
                  params={"dtype": dtype, "rows": rows, "cols": cols},
                  seed=seed, test_dir=test_dir)
