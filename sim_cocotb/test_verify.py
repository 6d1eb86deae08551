"""``python -m sim_cocotb.verify`` on the ``tiny`` configuration, and on a broken one."""

import json

import pytest

from gen.blocks import BLOCKS
from gen.config import CONFIGS
from rtl.similarity_matcher import SimilarityMatcher
from sim_cocotb import verify

pytestmark = pytest.mark.verify


def test_every_block_has_one_bench():
    covered = [block for bench in verify.BENCHES for block in bench.blocks]
    assert sorted(covered) == sorted(block.name for block in BLOCKS)


def test_verify_tiny(tmp_path, seed):
    """Every bench passes on the generated tiny Verilog; the report says what ran."""
    report = verify.verify(CONFIGS["tiny"], "tiny", seed=seed, verilog_dir=tmp_path / "v",
                           report_dir=tmp_path / "report", log=print)
    assert report["passed"], report["first_failure"]
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["config_hash"] == CONFIGS["tiny"].hash
    assert [v["bench"] for v in saved["benches"]] == [b.name for b in verify.BENCHES]
    for verdict in saved["benches"]:
        assert verdict["passed"] and verdict["tests"] > 0, verdict
        assert verdict["cycles"] > 0 and verdict["vectors"] > 0, verdict
        assert verdict["files"], "the simulated files were not checked against the generated"
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "**PASS**" in markdown and "| `focus_engine` |" in markdown


def test_wrong_latency_fails_with_the_first_mismatch(tmp_path, seed, monkeypatch):
    """A matcher that believes its dot product takes one cycle longer than it does: the
    generated gather is wrong, and verify names the bench, port, beat, expected and got."""
    dot_latency = SimilarityMatcher.dot_latency
    monkeypatch.setattr(SimilarityMatcher, "dot_latency",
                        property(lambda self: dot_latency.fget(self) + 1))
    report = verify.verify(CONFIGS["tiny"], "tiny-broken", seed=seed,
                           benches=["similarity_gather"], cache=None,
                           verilog_dir=tmp_path / "v", report_dir=tmp_path / "report", log=print)
    assert not report["passed"]
    failure = report["first_failure"]
    print(failure)
    assert failure.startswith("similarity_gather: ")
    assert "beat" in failure and "expected" in failure and "got" in failure, failure


def test_cli_exit_codes(capsys):
    assert verify.main(["--config", "tiny", "--set", "rows=0"]) == 2
    assert "rows must be an integer in [1, 256], got 0" in capsys.readouterr().err
    assert verify.main(["--config", "tiny", "--benches", "nonsense"]) == 2
    assert "unknown bench nonsense" in capsys.readouterr().err
