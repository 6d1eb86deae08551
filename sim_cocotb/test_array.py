"""Regression of the systolic array: cocotb under Verilator for several shapes."""

import pytest

from gen.config import CONFIGS
from gen.generate import block_design, design
from rtl.arith import Fp16Format
from rtl.systolic_array import SystolicArray
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.array

SHAPES = [(2, 2), (4, 4), (4, 8), (8, 8)]
DTYPES = ["int8", "fp16"]
# fp16 with other unit pipeline depths (mul_latency, add_latency) than the default (1, 2):
# the array must be correct for any latency of its arithmetic.
FP16_PIPELINES = [(2, 3), (1, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_systolic_array(dtype, rows, cols, seed, test_dir):
    config = CONFIGS["tiny"].replace(dtype=dtype, rows=rows, cols=cols)
    run_testbench(block_design(config, "systolic_array"), "sim_cocotb.tb_array",
                  params={"dtype": dtype, "rows": rows, "cols": cols},
                  seed=seed, test_dir=test_dir)


@pytest.mark.parametrize("mul_latency,add_latency", FP16_PIPELINES,
                         ids=[f"mul{m}-add{a}" for m, a in FP16_PIPELINES])
def test_systolic_array_fp16_pipelines(mul_latency, add_latency, seed, test_dir):
    fmt = Fp16Format(mul_latency=mul_latency, add_latency=add_latency)
    run_testbench(design(SystolicArray, fmt, rows=4, cols=4), "sim_cocotb.tb_array",
                  params={"dtype": "fp16", "rows": 4, "cols": 4},
                  seed=seed, test_dir=test_dir)
