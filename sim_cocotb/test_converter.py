"""Regression of the output converter (int32 -> int8 requantization, fp32 -> fp16)."""

import pytest

from gen.config import CONFIGS
from gen.generate import block_design
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("dtype", ["int8", "fp16"])
def test_output_converter(dtype, seed, test_dir):
    cols = 4
    config = CONFIGS["tiny"].replace(dtype=dtype, cols=cols)
    run_testbench(block_design(config, "output_converter"), "sim_cocotb.tb_converter",
                  params={"dtype": dtype, "cols": cols},
                  seed=seed, test_dir=test_dir)
