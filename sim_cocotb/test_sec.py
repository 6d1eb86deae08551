"""Regression of the SEC blocks: cocotb under Verilator, one build per configuration.

Each configuration builds ``sim_cocotb.tb_sec_harness.SecHarness`` (the top plus standalone
analyzer, sorter and offset coders, one compiled model) and runs every test of
``sim_cocotb.tb_sec`` on it. The entries of :data:`sim_cocotb.configs.TEST_CONFIGS` that run
``semantic_concentrator`` are verified through the ``make verify`` path
(:func:`sim_cocotb.configs.run_test_config`), with the top's internal streams tapped.
"""

import pytest

from sim_cocotb.configs import entries, run_test_config

pytestmark = pytest.mark.sec


@pytest.mark.parametrize("name", entries("semantic_concentrator"))
def test_semantic_concentrator(name, seed, test_dir):
    run_test_config(name, "semantic_concentrator", seed=seed, test_dir=test_dir)
