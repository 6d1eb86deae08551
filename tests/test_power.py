"""The power flow: SAIF reading, netlist preparation, activity annotation, and the ``tiny``
flow end to end with the issue's sanity checks (power follows activity, annotation coverage,
concentrated tiles cost less energy than dense ones, fp16 MACs more than int8 MACs)."""

import json

import pytest

from gen.config import CONFIGS
from gen.generate import block_design
from power import cli
from power.activity import annotate, nearest_pe
from power.netlist import SOURCE_PREFIX, prepare, registers
from power.saif import read_saif
from power.sta import power_script, run_power
from power.stimulus import TRACED_SUFFIX, sample_pe_columns
from synth.liberty import read_liberty
from synth.tools import default_liberty, sta_command

LIBERTY = default_liberty()
needs_sta = pytest.mark.skipif(LIBERTY is None or sta_command() is None,
                               reason="OpenSTA or the OSU 0.18 um liberty not installed")

SAIF = """// test
(SAIFILE
(SAIFVERSION "2.0")
(DIRECTION "backward")
(DIVIDER / )
(TIMESCALE 1ps)
(DURATION 1000)
 (INSTANCE $rootio
  (NET
   (clk (T0 500) (T1 500) (TZ 0) (TX 0) (TB 0) (TC 20))
  )
 )
 (INSTANCE top
  (NET
   (clk (T0 500) (T1 500) (TZ 0) (TX 0) (TB 0) (TC 20))
   (acc\\[1\\] (T0 250) (T1 750) (TZ 0) (TX 0) (TB 0) (TC 4))
  )
  (INSTANCE child
   (NET
    ($5\\[0\\] (T0 1000) (T1 0) (TZ 0) (TX 0) (TB 0) (TC 0))
   )
  )
  (INSTANCE pe_0_0
   (NET
    (q (T0 600) (T1 400) (TZ 0) (TX 0) (TB 0) (TC 6))
   )
  )
 )
)
"""

# A child with one register, instantiated with a constant on its input; a parent whose
# inverter reads an undriven net (as the read data of a removed SRAM would be).
NETLIST = """module child(clk, a, y);
  input clk;
  wire clk;
  input a;
  wire a;
  output y;
  wire y;
  DFFPOSX1 _1_ (
    .CLK(clk),
    .D(a),
    .Q(y)
  );
endmodule
module top(clk, y, z);
  input clk;
  wire clk;
  output y;
  wire y;
  output z;
  wire z;
  wire \\ram_data[0] ;
  child u (
    .clk(clk),
    .a(1'b0),
    .y(y)
  );
  INVX1 _2_ (
    .A(\\ram_data[0] ),
    .Y(z)
  );
endmodule
"""


PREPARED_SAIF = """(SAIFILE
(TIMESCALE 1ps)
(DURATION 1000)
 (INSTANCE top
  (NET
   (clk (T0 500) (T1 500) (TC 20))
   (ram_data\\[0\\] (T0 250) (T1 750) (TC 4))
  )
  (INSTANCE u
   (NET
    (y (T0 1000) (T1 0) (TC 0))
   )
  )
 )
)
"""


def test_read_saif_scopes_names_and_cycles(tmp_path):
    path = tmp_path / "dump.saif"
    path.write_text(SAIF)
    saif = read_saif(path)
    assert saif.duration == 1000 and saif.timescale == "1ps"
    assert saif.nets[("top",)]["acc[1]"] == (750, 4)
    assert saif.nets[("top", "child")]["$5[0]"] == (0, 0)
    assert saif.cycles(("top",)) == 10
    with pytest.raises(ValueError, match="no instance top/missing"):
        saif.scope(("top", "missing"))


def test_nearest_pe_substitutes_untraced_columns_only():
    substitute = nearest_pe([0, 4])
    assert substitute(("e", "array", "pe_3_1", "fp_add")) == ("e", "array", "pe_3_0", "fp_add")
    assert substitute(("e", "array", "pe_3_3")) == ("e", "array", "pe_3_4")
    assert substitute(("e", "array", "pe_3_4")) is None
    assert substitute(("e", "gather")) is None


@needs_sta
def test_prepare_drives_constants_and_undriven_nets_so_power_runs(tmp_path):
    """A constant on a module instance pin crashes Debian's OpenSTA report_power; prepare()
    replaces it (and the undriven net) by annotated activity sources, and the run works."""
    library = read_liberty(LIBERTY)
    prepared = prepare(NETLIST, library)
    sources = prepared.sources["top"]
    assert [(s.net, s.constant) for s in sources] == [("focus_tie0_", "0"),
                                                      ("\\ram_data[0]", None)]
    assert "1'b0" not in prepared.text.split("module top")[1]
    regs = registers(prepared, "top", library)
    assert [(r.path, r.names) for r in regs] == [("u/_1_", ("y",))]
    saif_path = tmp_path / "dump.saif"
    saif_path.write_text(PREPARED_SAIF)
    saif = read_saif(saif_path)
    activity, coverage, missing = annotate(prepared, "top", library, saif, ("top",),
                                           saif.cycles(("top",)))
    assert coverage.registers == (1, 1) and coverage.sources == (2, 2) and not missing
    assert activity.pins[f"{SOURCE_PREFIX}1_/Q"] == (0.4, 0.75)     # 4 toggles / 10 cycles
    (tmp_path / "n.v").write_text(prepared.text)
    (tmp_path / "c.lib").write_text(LIBERTY.read_text())
    groups, nan, _ = run_power(
        sta_command(), tmp_path, power_script(liberty="c.lib", netlist="n.v", top="top",
                                              period_ns=5.0, activity=activity), "test")
    assert set(groups) == {"", "u", "@sources"} and nan == 0
    assert all(power.total > 0 for power in groups.values())


# Constants assigned to nets that feed cells (as the fp16 multiplier's constant low product
# bits reach the adders): Debian's OpenSTA 2.0.17 report_power crashes on this as written.
ASSIGNED_CONSTANTS = """module top(clk, z, u1, u2);
  input clk;
  wire clk;
  input u1;
  wire u1;
  input u2;
  wire u2;
  output z;
  wire z;
  wire k;
  wire k2;
  wire w;
  wire w2;
  OAI21X1 _2_ (
    .A(u1),
    .B(u2),
    .C(k),
    .Y(w)
  );
  OAI21X1 _4_ (
    .A(u1),
    .B(u2),
    .C(k2),
    .Y(w2)
  );
  NAND3X1 _3_ (
    .A(w),
    .B(w2),
    .C(u1),
    .Y(z)
  );
  assign k = 1'b0;
  assign k2 = 1'h0;
endmodule
"""


@needs_sta
def test_prepare_ties_assigned_constants_so_power_runs(tmp_path):
    library = read_liberty(LIBERTY)
    prepared = prepare(ASSIGNED_CONSTANTS, library)
    assert [(s.net, s.constant) for s in prepared.sources["top"]] == [("focus_tie0_", "0")]
    assert "1'b0" not in prepared.text and "1'h0" not in prepared.text
    saif_path = tmp_path / "dump.saif"
    saif_path.write_text(PREPARED_SAIF)
    activity, coverage, _ = annotate(prepared, "top", library, read_saif(saif_path), ("top",),
                                     10)
    assert coverage.sources == (1, 1)
    assert activity.pins[f"{SOURCE_PREFIX}0_/Q"] == (0.0, 0.0)
    (tmp_path / "n.v").write_text(prepared.text)
    (tmp_path / "c.lib").write_text(LIBERTY.read_text())
    script = power_script(liberty="c.lib", netlist="n.v", top="top", period_ns=5.0,
                          activity=activity)
    groups, nan, usage = run_power(sta_command(), tmp_path, script, "test")
    assert nan == 0 and groups[""].total > 0 and usage.seconds > 0
    # the same script on the same files is read back, a changed netlist runs again
    again, _, usage = run_power(sta_command(), tmp_path, script, "test")
    assert again == groups and usage.seconds == 0
    (tmp_path / "n.v").write_text(prepared.text.replace("OAI21X1 _4_", "AOI21X1 _4_"))
    changed, _, usage = run_power(sta_command(), tmp_path, script, "test")
    assert usage.seconds > 0 and changed[""].total != groups[""].total


def test_sampled_pe_columns_rename_only_those_instances():
    engine = block_design(CONFIGS["tiny"], "focus_engine")
    sampled, blocks = sample_pe_columns(engine, [1])
    (pe,) = blocks
    traced = pe + TRACED_SUFFIX
    assert sampled.instances[traced] == CONFIGS["tiny"].rows
    assert sampled.instances[pe] == engine.instances[pe] - CONFIGS["tiny"].rows
    array = next(t for n, t in sampled.files.items() if "pe_0_1" in t and n != f"{traced}.v")
    assert f"{traced} pe_2_1 (" in array and f"{pe} pe_2_0 (" in array
    assert f"module {traced}(" in sampled.files[f"{traced}.v"]
    with pytest.raises(ValueError, match="subset of 0..3"):
        sample_pe_columns(engine, [4])


def _flow(tmp_path_factory, name, argv):
    out = tmp_path_factory.mktemp(name)
    runs = cli.run(cli.parser().parse_args(argv + ["--out", str(out)]))
    return out, runs


@pytest.fixture(scope="module")
def tiny_power(tmp_path_factory):
    """The tiny configuration with a gather fast enough to hide behind the array (7
    matchers: one key per cycle), so a concentrated tile takes fewer cycles than a dense one."""
    return _flow(tmp_path_factory, "power-tiny",
                 ["--config", "tiny", "--set", "matchers=7", "--tiles", "3", "--zeros",
                  "--sec-tokens", "48"])


@needs_sta
def test_tiny_power_annotation_coverage_and_activity(tiny_power):
    out, runs = tiny_power
    for run in runs.values():
        for block in run.blocks:
            annotated, total = block.coverage.registers
            assert annotated >= 0.95 * total, (run.simulation.name, block.block, block.missing)
            assert block.coverage.ports[0] == block.coverage.ports[1]
    array = {name: next(b for b in runs[name].blocks if b.block == "array")
             for name in ("engine-dense", "engine-zeros")}
    # annotation took effect, and power follows activity
    assert array["engine-dense"].annotated.total != pytest.approx(
        array["engine-dense"].default.total, rel=1e-3)
    assert array["engine-zeros"].annotated.switching < array["engine-dense"].annotated.switching
    assert array["engine-zeros"].annotated.total < array["engine-dense"].annotated.total


@needs_sta
def test_tiny_power_concentrated_tile_costs_the_array_less_than_dense(tiny_power):
    """The array's energy per output tile drops with concentration (fewer vectors). The whole
    engine's need not on tiny: a 4x4 array is smaller than a 7-matcher gather."""
    out, runs = tiny_power
    table = json.loads((out / "energy.json").read_text())
    assert table["format"] == "focus-power-energy/1"
    assert all(entry["value"] > 0 for entry in table["pj"].values())

    def tile_energy(name, block):
        run = runs[name]
        power = next(b for b in run.blocks if b.block == block)
        return run.energy_pj(power) / run.simulation.result["tiles"]

    assert tile_energy("engine-video", "array") < tile_energy("engine-dense", "array")
    text = (out / "report.md").read_text()
    assert "concentrated / dense" in text and "4.67x" in text
    assert (out / "energy.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "power.csv").read_text().startswith("run,block,")


@needs_sta
@pytest.mark.slow       # synthesizes the fp16 gather matcher (about 8 CPU minutes)
def test_fp16_mac_costs_more_than_int8_mac(tiny_power, tmp_path_factory):
    out, _ = tiny_power
    fp16, _ = _flow(tmp_path_factory, "power-tiny-fp16",
                    ["--config", "tiny", "--set", "dtype=fp16", "--set", "matchers=7",
                     "--tiles", "1", "--no-sec"])
    int8_pj = json.loads((out / "energy.json").read_text())["pj"]["pe_cycle"]["value"]
    fp16_pj = json.loads((fp16 / "energy.json").read_text())["pj"]["pe_cycle"]["value"]
    assert fp16_pj > int8_pj


def test_power_cli_refuses_bad_options(capsys):
    assert cli.main(["--config", "tiny", "--tiles", "0"]) == 2
    assert "--tiles must be at least 1" in capsys.readouterr().err
    assert cli.main(["--config", "tiny", "--pe-columns", "9"]) == 2
    assert "out of range 0..3" in capsys.readouterr().err
    assert cli.main(["--config", "tiny", "--sec-tokens", "1000"]) == 2
    assert "1..64" in capsys.readouterr().err


@needs_sta
def test_system_model_reads_the_measured_table(tiny_power):
    from perf.energy import OperationEnergy
    out, _ = tiny_power
    tiny7 = CONFIGS["tiny"].with_overrides(["matchers=7"])
    energy = OperationEnergy(out / "energy.json", tiny7)
    assert not energy.placeholder and energy.pj["pe_cycle"] > 0
    assert energy.pj["dram_byte"] == pytest.approx(99.98)      # published, not measured
    with pytest.raises(ValueError, match="measured on configuration hash"):
        OperationEnergy(out / "energy.json", CONFIGS["tiny"])


def test_committed_energy_tables_load_for_their_configurations():
    """perf/data/energy/<config>.json (copied from make power's energy.json) belongs to the
    named configuration of today: the system model refuses a stale one."""
    from perf.energy import MEASURED_ENERGY, OperationEnergy, default_energy_table
    tables = sorted(MEASURED_ENERGY.glob("*.json"))
    assert tables, "no measured energy table committed"
    for path in tables:
        assert default_energy_table(path.stem) == path
        energy = OperationEnergy(path, CONFIGS[path.stem])
        assert not energy.placeholder and energy.pj["pe_cycle"] > 0
