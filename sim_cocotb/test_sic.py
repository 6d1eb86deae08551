"""Regression of the SIC gather unit: cocotb under Verilator, one build per configuration.

Every entry of :data:`sim_cocotb.configs.TEST_CONFIGS` that runs ``similarity_gather`` is verified
through the ``make verify`` path (:func:`sim_cocotb.configs.run_test_config`).
"""

import pytest

from sim_cocotb.configs import entries, run_test_config

pytestmark = pytest.mark.sic


@pytest.mark.parametrize("name", entries("similarity_gather"))
def test_similarity_gather(name, seed, test_dir):
    run_test_config(name, "similarity_gather", seed=seed, test_dir=test_dir)
