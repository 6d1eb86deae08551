"""Regression of the scatter accumulator (cocotb under Verilator).

Every entry of :data:`sim_cocotb.configs.TEST_CONFIGS` that runs ``scatter_accumulator`` is verified
through the ``make verify`` path (:func:`sim_cocotb.configs.run_test_config`).
"""

import pytest

from sim_cocotb.configs import entries, run_test_config

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("name", entries("scatter_accumulator"))
def test_scatter_accumulator(name, seed, test_dir):
    run_test_config(name, "scatter_accumulator", seed=seed, test_dir=test_dir)
