"""Regression of the FocusEngine top level (cocotb under Verilator).

Every entry of :data:`sim_cocotb.configs.TEST_CONFIGS` that runs ``focus_engine`` is verified
through the ``make verify`` path (:func:`sim_cocotb.configs.run_test_config`).
"""

import pytest

from sim_cocotb.configs import entries, run_test_config

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("name", entries("focus_engine"))
def test_focus_engine(name, seed, test_dir):
    run_test_config(name, "focus_engine", seed=seed, test_dir=test_dir)
