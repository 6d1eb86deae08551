"""Regression of the systolic array: cocotb under Verilator for several shapes."""

import pytest

from gen.config import CONFIGS
from gen.generate import block_design
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.array

SHAPES = [(2, 2), (4, 4), (4, 8), (8, 8)]
DTYPES = ["int8", "fp16"]
# fp16 with other unit pipeline depths (mul_stages, add_stages) than the default (2, 2):
# the array must be correct for any latency of its arithmetic.
FP16_PIPELINES = [(2, 3), (1, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_systolic_array(dtype, rows, cols, seed, test_dir):
    config = CONFIGS["tiny"].replace(dtype=dtype, rows=rows, cols=cols)
    run_testbench(block_design(config, "systolic_array"), "sim_cocotb.tb_array",
                  params={"dtype": dtype, "rows": rows, "cols": cols},
                  seed=seed, test_dir=test_dir)


@pytest.mark.parametrize("mul_stages,add_stages", FP16_PIPELINES,
                         ids=[f"mul{m}-add{a}" for m, a in FP16_PIPELINES])
def test_systolic_array_fp16_pipelines(mul_stages, add_stages, seed, test_dir):
    config = CONFIGS["tiny"].replace(dtype="fp16", mul_stages=mul_stages, add_stages=add_stages)
    run_testbench(block_design(config, "systolic_array"), "sim_cocotb.tb_array",
                  params={"dtype": "fp16", "rows": 4, "cols": 4},
                  seed=seed, test_dir=test_dir)
