"""Regression of the output converter (int32 -> int8 requantization, fp32 -> fp16).

Every entry of :data:`sim_cocotb.configs.TEST_CONFIGS` that runs ``output_converter`` is verified
through the ``make verify`` path (:func:`sim_cocotb.configs.run_test_config`).
"""

import pytest

from sim_cocotb.configs import entries, run_test_config

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("name", entries("output_converter"))
def test_output_converter(name, seed, test_dir):
    run_test_config(name, "output_converter", seed=seed, test_dir=test_dir)
