"""Regression of the SEC blocks: cocotb under Verilator, one build per configuration.

Each configuration builds ``sim_cocotb.tb_sec_harness.SecHarness`` (the top plus standalone
analyzer, sorter and offset coders) once and runs every test of ``sim_cocotb.tb_sec`` on it.
"""

import pytest

from gen.formats import number_format
from gen.generate import design
from sim_cocotb.runner import run_testbench
from sim_cocotb.tb_sec_harness import SecHarness

pytestmark = pytest.mark.sec

# (dtype, sort_width, max_tokens, offset_bits)
CONFIGS = {
    # the "tiny" generator configuration: a = 4, 64 tokens, 3-bit codes
    "int8-a4": ("int8", 4, 64, 3),
    # a not a power of two, buffer not a multiple of a, 2-bit codes (escape-heavy)
    "fp16-a5": ("fp16", 5, 72, 2),
    # the published chain length
    "fp16-a32": ("fp16", 32, 300, 4),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_semantic_concentrator(name, seed, test_dir):
    dtype, sort_width, max_tokens, offset_bits = CONFIGS[name]
    params = dict(dtype=dtype, sort_width=sort_width, max_tokens=max_tokens,
                  offset_bits=offset_bits)
    harness = design(SecHarness, number_format(dtype), sort_width=sort_width,
                     max_tokens=max_tokens, offset_bits=offset_bits)
    run_testbench(harness, "sim_cocotb.tb_sec", params=params,
                  seed=seed, test_dir=test_dir)
