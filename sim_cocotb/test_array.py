"""Regression of the systolic array: several shapes, formats and PE pipeline depths.

Every entry of :data:`sim_cocotb.configs.TEST_CONFIGS` that runs ``systolic_array`` is verified
through the ``make verify`` path (:func:`sim_cocotb.configs.run_test_config`).
"""

import pytest

from sim_cocotb.configs import entries, run_test_config

pytestmark = pytest.mark.array


@pytest.mark.parametrize("name", entries("systolic_array"))
def test_systolic_array(name, seed, test_dir):
    run_test_config(name, "systolic_array", seed=seed, test_dir=test_dir)
