"""System model (perf): the ``python -m perf`` command line."""

import csv
import json

import numpy as np
import pytest

from gen.config import CONFIGS
from perf.cli import main
from perf.traces import save_trace

pytestmark = pytest.mark.perf

SMALL_CASE = ["--cases", "minicpm-v/mvbench", "--published-density", "--no-progress"]


def test_run_writes_the_table_csv_json_and_plots(tmp_path, capsys):
    assert main([*SMALL_CASE, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "minicpm-v/mvbench" in printed and "geometric mean" in printed
    assert "measured paper.json" in printed and "PLACEHOLDER" not in printed
    rows = list(csv.DictReader(open(tmp_path / "summary.csv")))
    assert [row["case"] for row in rows] == ["minicpm-v/mvbench", "geometric mean"]
    assert float(rows[0]["speedup"]) > 1 and float(rows[0]["published_speedup"]) == 2.606
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["header"]["placeholder"] is False
    assert summary["header"]["config_hash"] == CONFIGS["paper"].hash
    layers = list(csv.DictReader(open(tmp_path / "layers.csv")))
    assert len(layers) == 2 * 28 * 8
    focus = [row for row in layers if row["mode"] == "focus"]
    assert all(float(row["cycles"]) > 0 for row in focus)
    parts = [key for key in layers[0] if key.endswith("_cycles") and key != "cycles"]
    for row in focus[:16]:
        assert sum(float(row[key]) for key in parts) == pytest.approx(float(row["cycles"]))
    if (tmp_path / "speedup.png").exists():      # matplotlib installed (make setup)
        assert (tmp_path / "layers-minicpm-v-mvbench.png").stat().st_size > 0


def test_published_models_side_by_side(tmp_path, capsys):
    assert main([*SMALL_CASE, "--cycles", "published", "--energy", "published", "--no-plots",
                 "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "PLACEHOLDER" not in printed and "cycles: published" in printed
    row = next(csv.DictReader(open(tmp_path / "summary.csv")))
    assert float(row["dense_cycles"]) == 3174494400      # the published dense count (system.md 4)


def test_custom_case_from_the_command_line(tmp_path):
    assert main(["--frames", "4", "--rows", "6", "--cols", "7", "--blocks", "2", "--hidden",
                 "256", "--heads", "2", "--kv-dim", "64", "--ffn", "512", "--density", "0.6",
                 "--no-plots", "--no-progress", "--out", str(tmp_path)]) == 0
    row = next(csv.DictReader(open(tmp_path / "summary.csv")))
    assert row["case"] == "custom" and float(row["op_density"]) == pytest.approx(0.6, abs=0.01)


@pytest.mark.parametrize("arguments, message", [
    (["--cases", "llava-video/nothing"], "unknown case 'llava-video/nothing'"),
    (["--set", "matchers=7", *SMALL_CASE], "stale calibration table"),
    (["--config", "tiny", *SMALL_CASE], "no calibration table"),
    ([*SMALL_CASE[:2], "--density", "0.99"], "density 0.99 is not reachable"),
])
def test_bad_inputs_stop_with_a_message(arguments, message, capsys, tmp_path):
    assert main([*arguments, "--no-plots", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert message in error
    if "stale" in message:
        assert CONFIGS["paper"].hash in error
        assert CONFIGS["paper"].replace(matchers=7).hash in error


def test_a_trace_that_does_not_fit_the_model_is_refused(tmp_path, capsys):
    path = tmp_path / "trace.npz"
    save_trace(path, {"q_proj": {"pruned": np.zeros((28, 10), dtype=bool),
                                 "similar": np.zeros((28, 10, 112), dtype=bool)}})
    assert main(["--cases", "minicpm-v/mvbench", "--trace", str(path), "--no-plots",
                 "--no-progress", "--out", str(tmp_path)]) == 2
    assert "q_proj.pruned has shape (28, 10), the workload needs (28, 402)" in capsys.readouterr().err
