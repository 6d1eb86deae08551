"""pytest options shared by every test: ``--seed`` and ``--waves``."""

import os
import re
from pathlib import Path

import pytest

from sim_cocotb.runner import DEFAULT_SEED


def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=None,
                     help=f"seed of every random test (default {DEFAULT_SEED}, "
                          "or the FOCUS_SEED environment variable)")
    parser.addoption("--waves", action="store_true",
                     help="record FST waveforms of cocotb simulations (same as FOCUS_WAVES=1)")


def pytest_configure(config):
    if config.getoption("--waves"):
        os.environ["FOCUS_WAVES"] = "1"


@pytest.fixture
def seed(request):
    """The run's random seed; printed so that a failure reproduces with ``--seed``."""
    value = request.config.getoption("--seed")
    if value is None:
        value = int(os.environ.get("FOCUS_SEED", DEFAULT_SEED))
    print(f"seed = {value}")
    return value


@pytest.fixture
def test_dir(request):
    """A per-test directory under ``build/tests`` for simulator logs, results and waves."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    path = Path(__file__).parent / "build" / "tests" / name
    path.mkdir(parents=True, exist_ok=True)
    return path
