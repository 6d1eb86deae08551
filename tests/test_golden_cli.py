"""Tests of ``python -m golden`` (golden/__main__.py)."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from golden.__main__ import ProgressBar, main
from golden.workloads import video_tokens

pytestmark = pytest.mark.golden

TINY = ["--geometry", "tiny", "--dim", "64", "--no-progress"]


def run_json(capsys, *arguments):
    assert main(["sparsity", *TINY, "--json", *arguments]) == 0
    return json.loads(capsys.readouterr().out)


def test_text_report(capsys):
    assert main(["sparsity", *TINY]) == 0
    report = capsys.readouterr().out
    for heading in ("zero", "similar", "unique", "sparsity", "compression ratio", "group sizes", "chosen candidate"):
        assert heading in report
    assert "theta 0.9, window 2x2x2 (7 candidates), V = 32 (2 vectors/token), m_tile 1024, FS 12, HS 4" in report


def test_json_report_is_consistent(capsys):
    summary = run_json(capsys, "--threshold", "0.8", "--window", "1x2x2", "--vector-size", "16", "--m-tile", "8")
    counts = summary["vectors"]
    assert counts["all"] == 36 * 4 == counts["zero"] + counts["similar"] + counts["unique"]
    assert summary["sparsity"] == pytest.approx((counts["zero"] + counts["similar"]) / counts["all"])
    assert sum(row["vectors"] for row in summary["group_sizes"]) == counts["all"] - counts["zero"]
    assert sum(row["groups"] for row in summary["group_sizes"]) == counts["unique"]
    assert [row["offset"] for row in summary["chosen_candidates"]] == [1, 4, 5]
    assert summary["settings"]["window"] == [1, 2, 2]


def test_input_file_with_positions(tmp_path, capsys):
    tokens = video_tokens("tiny", 40)
    path = tmp_path / "acts.npy"
    np.save(path, tokens[None])  # (1, S, D) as dumped from a batch-1 model
    direct = run_json(capsys, "--input", str(path))
    assert direct["vectors"]["all"] == tokens.shape[0] * 2
    positions = tmp_path / "pos.npy"
    np.save(positions, np.arange(tokens.shape[0]) * 2)  # every other position pruned
    holes = run_json(capsys, "--input", str(path), "--positions", str(positions))
    assert holes["vectors"]["similar"] <= direct["vectors"]["similar"]


def test_sec_before_sic(tmp_path, capsys):
    summary = run_json(capsys, "--keep", "0.5")
    assert summary["tokens"] == {"original": 36, "retained": 18}
    assert 0 <= summary["sparsity"] <= summary["sparsity_vs_dense_unpruned"] <= 1
    importance = tmp_path / "importance.npy"
    np.save(importance, np.arange(36.0))  # the last tokens are the most important
    summary = run_json(capsys, "--keep", "0.25", "--importance", str(importance))
    assert summary["tokens"]["retained"] == 9


def test_custom_geometry(capsys):
    summary = run_json(capsys, "--frames", "2", "--rows", "2", "--cols", "3")
    assert summary["tokens"]["original"] == 12
    assert summary["settings"]["frame_stride"] == 6 and summary["settings"]["row_stride"] == 3
    summary = run_json(capsys, "--frame-stride", "20", "--row-stride", "5")
    assert summary["settings"]["frame_stride"] == 20


@pytest.mark.parametrize(
    "arguments",
    [["--threshold", "2"], ["--input", "/no/such/file.npy"], ["--keep", "0.5", "--importance", "/no/such.npy"]],
)
def test_errors_are_reported_cleanly(arguments):
    with pytest.raises(SystemExit, match="error"):
        main(["sparsity", *TINY, *arguments])


def test_bad_window_and_bad_input_shape(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["sparsity", *TINY, "--window", "2x2"])
    path = tmp_path / "flat.npy"
    np.save(path, np.ones(5))
    with pytest.raises(SystemExit, match="shape"):
        main(["sparsity", *TINY, "--input", str(path)])


def test_bench_small(capsys):
    assert main(["bench", "--geometry", "tiny", "--dim", "64", "--repeat", "2"]) == 0
    output = capsys.readouterr().out
    assert "run 2" in output and "tracemalloc" in output and "ru_maxrss" in output and "sparsity" in output


def test_progress_bar_draws_only_when_slow():
    stream = io.StringIO()
    with ProgressBar("work", stream=stream, delay=0.0) as bar:
        bar(5, 10)
        bar(10, 10)
    assert "work [" in stream.getvalue() and "100.0%" in stream.getvalue()
    assert stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    with ProgressBar("work", stream=quiet, delay=60.0) as bar:
        bar(10, 10)
    assert quiet.getvalue() == ""


def test_module_entry_point_help():
    completed = subprocess.run(
        [sys.executable, "-m", "golden", "sparsity", "--help"], capture_output=True, text=True, check=True
    )
    assert "--input FILE.npy" in completed.stdout and "--m-tile" in completed.stdout
