"""Regression of the SIC gather unit: cocotb under Verilator, one build per configuration."""

import pytest

from gen.config import CONFIGS as GENERATOR_CONFIGS
from gen.generate import block_design
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.sic

# Small configurations: every directed case fits (FS 12 / HS 4 and FS 42 / HS 7 windows).
CONFIGS = {
    "int8-v4-m1": dict(dtype="int8", rows=4, m_tile=32, window=(2, 2, 2), window_vectors=64,
                       matchers=1, position_bits=9),
    "int8-v8-m7": dict(dtype="int8", rows=8, m_tile=32, window=(2, 2, 2), window_vectors=64,
                       matchers=7, position_bits=9),
    "fp16-v4-m1": dict(dtype="fp16", rows=4, m_tile=32, window=(2, 2, 2), window_vectors=64,
                       matchers=1, position_bits=9),
    # folded dot products (V / matcher_width cycles) and fewer mean lanes than V
    "int8-v8-m1-w2-c2": dict(dtype="int8", rows=8, m_tile=32, window=(2, 2, 2),
                             window_vectors=64, matchers=1, position_bits=9, matcher_width=2,
                             collector_lanes=2),
    "fp16-v8-m2-w4-c4": dict(dtype="fp16", rows=8, m_tile=32, window=(2, 2, 2),
                             window_vectors=64, matchers=2, position_bits=9, matcher_width=4,
                             collector_lanes=4),
    "fp16-v8-m3": dict(dtype="fp16", rows=8, m_tile=32, window=(2, 2, 2), window_vectors=64,
                       matchers=3, position_bits=9),
}


def build(params):
    """The gather of ``params`` as the generator builds it (positions of ``position_bits``)."""
    config = GENERATOR_CONFIGS["tiny"].replace(
        dtype=params["dtype"], rows=params["rows"], m_tile=params["m_tile"],
        window=params["window"], window_vectors=params["window_vectors"],
        matchers=params["matchers"], max_tokens=1 << params["position_bits"],
        matcher_width=params.get("matcher_width"), collector_lanes=params.get("collector_lanes"))
    return block_design(config, "similarity_gather")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_similarity_gather(name, seed, test_dir):
    params = CONFIGS[name]
    run_testbench(build(params), "sim_cocotb.tb_sic",
                  params=params, seed=seed, test_dir=test_dir)
