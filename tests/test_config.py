"""Configuration validation and the generator CLI (pure Python, no simulator)."""

import json
import subprocess
import sys

import pytest

from gen.cli import main
from gen.config import CONFIGS, FocusConfig, get_config
from gen.formats import FORMATS, number_format
from gen.generate import verilog_ports

pytestmark = pytest.mark.gen


def test_paper_configuration_matches_the_spec():
    paper = CONFIGS["paper"]
    assert (paper.dtype, paper.rows, paper.cols, paper.m_tile) == ("fp16", 32, 32, 1024)
    assert (paper.window, paper.window_vectors, paper.matchers) == ((2, 2, 2), 256, 1)
    assert (paper.scatter_lanes, paper.sort_width, paper.max_tokens) == (2, 32, 12800)
    assert CONFIGS["paper-int8"] == paper.replace(dtype="int8")
    assert paper.candidates == 7


@pytest.mark.parametrize("change, message", [
    ({"dtype": "bf16"}, "dtype must be one of"),
    ({"rows": 0}, r"rows must be an integer in \[1, 256\], got 0"),
    ({"cols": 257}, r"cols must be an integer in \[1, 256\]"),
    ({"rows": 4.0}, "rows must be an integer"),
    ({"rows": True}, "rows must be an integer"),
    ({"m_tile": 0}, "m_tile"),
    ({"window": (2, 2)}, "window must be a tuple of 3 integers"),
    ({"window": [2, 2, 2]}, "window must be a tuple"),
    ({"window": (1, 1, 1)}, "no candidate neighbours"),
    ({"window": (2, 2, 9)}, r"\[1, 8\]"),
    ({"matchers": 8}, r"matchers must be an integer in \[1, 7\]"),
    ({"window_vectors": 1}, "window_vectors"),
    ({"scatter_lanes": 0}, "scatter_lanes"),
    ({"sort_width": 0}, "sort_width"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"offset_bits": 1}, r"offset_bits must be an integer in \[2, 16\]"),
    ({"dtype": "fp16", "add_stages": 4},
     r"add_stages must be one of 1, 2, 3 for fp16 \(default 2\), got 4"),
    ({"dtype": "fp16", "mul_stages": 0}, r"mul_stages must be one of 1, 2 for fp16"),
    ({"add_stages": 2}, r"add_stages must be one of 1 for int8 \(default 1\), got 2"),
])
def test_bad_parameters_are_rejected_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        CONFIGS["tiny"].replace(**change)


def test_overrides_parse_every_field_type():
    config = CONFIGS["tiny"].with_overrides(["rows=8", "cols=0x10", "window=2,2,1",
                                             "dtype=fp16", "scatter-lanes=4"])
    assert (config.rows, config.cols, config.window, config.dtype, config.scatter_lanes) \
        == (8, 16, (2, 2, 1), "fp16", 4)
    with pytest.raises(ValueError, match="key one of"):
        CONFIGS["tiny"].with_overrides(["nonsense=1"])
    with pytest.raises(ValueError, match="rows: cannot parse"):
        CONFIGS["tiny"].with_overrides(["rows=many"])


def test_hash_is_stable_and_distinguishes_configurations():
    hashes = {config.hash for config in CONFIGS.values()}
    assert len(hashes) == len(CONFIGS)
    # paper = the defaults with the throughput-matched gather (docs/area.md)
    assert FocusConfig(matcher_width=16, collector_lanes=2).hash == CONFIGS["paper"].hash
    assert FocusConfig().hash != CONFIGS["paper"].hash
    assert CONFIGS["tiny"].replace(rows=5).hash != CONFIGS["tiny"].hash
    # Optional parameters at their default do not enter the hash; set, they do.
    assert "add_stages" not in CONFIGS["paper"].to_dict()
    assert CONFIGS["paper"].replace(add_stages=2).hash != CONFIGS["paper"].hash
    assert "matcher_width" not in CONFIGS["tiny"].to_dict()


def test_pipeline_stages_reach_the_number_format():
    from gen.blocks import Derived
    fmt = Derived(CONFIGS["paper"].with_overrides(["mul_stages=2", "add_stages=3"])).fmt
    assert (fmt.mul_latency, fmt.add_latency) == (2, 3)
    assert (Derived(CONFIGS["paper"]).fmt.mul_latency, Derived(CONFIGS["tiny"]).fmt.add_latency) \
        == (2, 1)


def test_unknown_configuration_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: paper"):
        get_config("huge")


def test_formats_are_named_in_one_place():
    assert set(FORMATS) == {"fp16", "int8"}
    assert all(number_format(dtype).name == dtype for dtype in FORMATS)
    with pytest.raises(ValueError, match="dtype must be one of fp16, int8, got 'bf16'"):
        number_format("bf16")


def test_cli_writes_reproducible_verilog_and_manifest(tmp_path, capsys):
    for run in ("a", "b"):
        assert main(["--config", "tiny", "--set", "cols=3", "--out", str(tmp_path / run)]) == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["config"]["cols"] == 3
    assert manifest["config_hash"] == CONFIGS["tiny"].replace(cols=3).hash
    assert (tmp_path / "a" / "manifest.json").read_bytes() == \
        (tmp_path / "b" / "manifest.json").read_bytes()
    for entry in manifest["files"]:
        first = (tmp_path / "a" / entry["file"]).read_bytes()
        assert first == (tmp_path / "b" / entry["file"]).read_bytes()
    for entry in manifest["blocks"]:
        names = {port["name"] for port in entry["ports"]}
        assert {"clk", "rst"} <= names
    array = next(e for e in manifest["blocks"] if e["block"] == "systolic_array")
    ports = {p["name"]: p for p in array["ports"]}
    assert ports["acts__payload"] == {"name": "acts__payload", "direction": "input",
                                      "width": 4 * 8 + 2}
    assert ports["psums__payload"]["width"] == 3 * 32 + 2
    assert ports["psums__ready"]["direction"] == "input"
    fields = {f["field"]: f for f in array["payloads"]["acts__payload"]}
    assert fields["last"] == {"field": "last", "offset": 33, "width": 1}


def test_cli_reports_bad_values_without_traceback(tmp_path, capsys):
    assert main(["--config", "tiny", "--set", "rows=0", "--out", str(tmp_path)]) == 2
    assert "rows must be an integer in [1, 256], got 0" in capsys.readouterr().err


def test_cli_lists_configurations(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in CONFIGS)


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "gen", "--list"], capture_output=True,
                            text=True, check=True)
    assert "paper-int8" in result.stdout


def test_port_parser_reads_vectors_and_scalars():
    text = "module top(a, b, c);\n  input [7:0] a;\n  output b;\n  input [0:0] c;\nendmodule\n"
    assert verilog_ports(text, "top") == [
        {"name": "a", "direction": "input", "width": 8},
        {"name": "b", "direction": "output", "width": 1},
        {"name": "c", "direction": "input", "width": 1},
    ]
