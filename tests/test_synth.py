"""The Yosys area / OpenSTA timing flow (synth/) on the tiny configuration.

Each flow fixture runs once per test module (a file lock shares it between pytest-xdist
workers); unit tests of the text passes need no tools at all.
"""

import contextlib
import csv
import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import zlib

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from gen.blocks import BLOCKS
from gen.formats import FORMATS
from synth import flow, netlist, report, sta
from synth.categories import CATEGORIES, categorise, containment, missing_categories, roles
from synth.cli import main, parser, run_flow
from synth.liberty import read_liberty
from synth.png import bar_chart
from synth.tools import default_liberty, sta_command
from synth.yosys import read_memories

pytestmark = pytest.mark.synth

LIBERTY = default_liberty()
needs_liberty = pytest.mark.skipif(LIBERTY is None, reason="qflow-tech-osu018 not installed")
needs_sta = pytest.mark.skipif(LIBERTY is None or sta_command() is None,
                               reason="OpenSTA or the OSU 0.18 um liberty not installed")


@contextlib.contextmanager
def _shared_dir(tmp_path_factory, name):
    """A directory shared by all xdist workers, held under an exclusive lock."""
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker has its own basetemp inside the session's
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "focus-synth"
    root.mkdir(exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root / name
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _flow(tmp_path_factory, name, argv):
    with _shared_dir(tmp_path_factory, name) as out:
        return run_flow(parser().parse_args([*argv, "--out", str(out)])), out


#: A fast subset: the array, one SEC container and its parts (the full set runs under `slow`).
TINY_BLOCKS = [b.name for b in BLOCKS  # in registry order, as the report lists them
               if b.name in ("systolic_array", "importance_analyzer", "topk_sorter",
                             "offset_encoder", "semantic_concentrator")]
COMMAND = "timing" if LIBERTY is not None and sta_command() is not None else "area"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny configuration: timing (which includes area) when the tools exist."""
    return _flow(tmp_path_factory, "tiny", [COMMAND, "--config", "tiny",
                                            "--blocks", ",".join(TINY_BLOCKS)])


@pytest.fixture(scope="module")
def tiny_8x8(tmp_path_factory):
    return _flow(tmp_path_factory, "tiny-8x8", ["area", "--config", "tiny", "--set", "rows=8",
                                                "--set", "cols=8", "--no-reference",
                                                "--blocks", "systolic_array"])


# ----------------------------------------------------------------------------------------------
# the tiny flow

def test_report_lists_every_generated_block_and_each_missing_category(tiny):
    result, out = tiny
    text = (out / "report.md").read_text()
    for section in ("## Blocks", "## Breakdown by submodule",
                    "## Comparison with the published design",
                    "## Processing element by number format", "## Timing", "## Method"):
        assert section in text
    assert "1.65 %" in text and "+2.7 %" in text
    with open(out / "report.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == report.CSV_FIELDS
    synthesized = [r["block"] for r in rows if r["status"] == "synthesized"]
    assert synthesized == TINY_BLOCKS
    skipped = [r["block"] for r in rows if r["status"] == "skipped"]
    assert sorted(synthesized + skipped) == sorted(b.name for b in BLOCKS)
    missing = {r["category"] for r in rows if r["status"] == "not yet generated"}
    assert missing == {c.key for c in missing_categories([b.name for b in BLOCKS])}
    for category in missing:
        title = next(c.title for c in CATEGORIES if c.key == category)
        assert re.search(re.escape(title) + r" \| not yet generated", text)


def test_a_container_replaces_its_parts_in_the_sums(tiny):
    result, _ = tiny
    if "semantic_concentrator" not in TINY_BLOCKS:
        pytest.skip("no SEC container block yet")
    assert set(result.contains["semantic_concentrator"]) >= {"importance_analyzer",
                                                            "topk_sorter", "offset_encoder"}
    counted = [b for b in result.blocks if report.role(result, b) == "counted"]
    assert {b.name for b in counted} == {"systolic_array", "semantic_concentrator"}
    assert sum(report.share_pct(result, b) for b in counted) == pytest.approx(100)
    part = next(b for b in result.blocks if b.name == "importance_analyzer")
    assert report.share_pct(result, part) is None


def test_every_registered_format_has_a_reference_pe(tiny):
    result, _ = tiny
    assert [r.name for r in result.references] == [f"pe_{d}" for d in sorted(FORMATS)]
    assert all(report.measure(r) > 0 for r in result.references)


def test_areas_cells_and_transistors_are_positive(tiny):
    result, _ = tiny
    for block in result.blocks + result.references:
        assert block.generic_cells() > 0
        assert block.flip_flops() > 0
        assert block.logic_transistors() > 10 * block.flip_flops()
        assert block.transistors_exact(), block.name
        if LIBERTY is not None:
            assert block.cell_area() > block.flop_area() > 0


def test_hierarchical_method_accounts_for_every_pe(tiny):
    result, _ = tiny
    array = next(b for b in result.blocks if categorise(b.name).key == "array")
    config = result.config
    pes = {m: n for m, n in array.instance_counts().items()
           if m.startswith("focus_processing_element_")}
    assert sum(pes.values()) == config.rows * config.cols
    assert len(pes) < config.rows * config.cols  # every PE is an instance of one module
    shared = list(pes)
    assert [array.instance_counts()[m] for m in shared] == [config.rows * config.cols]
    parts = array.parts()
    assert (parts[0][0], parts[0][1]) == (shared[0], config.rows * config.cols)
    assert sum(total for _, _, _, total in parts) == pytest.approx(report.measure(array))


def test_area_grows_with_the_array(tiny, tiny_8x8):
    small, _ = tiny
    large, _ = tiny_8x8
    for getter in (report.measure, lambda b: b.flip_flops(), lambda b: b.logic_transistors()):
        a4, a8 = getter(small.blocks[0]), getter(large.blocks[0])
        # 4x the PEs: more than 3x the figure (the PE grid dominates), less than 6x.
        assert 3 * a4 < a8 < 6 * a4


def test_chart_is_a_valid_png(tiny):
    _, out = tiny
    data = (out / "area.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4:idat])[0]
    raw = zlib.decompress(data[idat + 4:idat + 4 + length])
    assert len(raw) == height * (1 + 3 * width)
    assert len(set(raw)) > 3  # not blank


@needs_sta
def test_timing_reports_a_critical_path_per_block(tiny):
    result, out = tiny
    for block in result.blocks + result.references:
        timing = block.timing
        assert timing is not None and timing.stages > 3
        assert 0.5 < timing.critical_ns < 100
        assert timing.fmax_mhz == pytest.approx(1000 / timing.critical_ns)
    assert "Fmax MHz" in (out / "report.md").read_text()


# ----------------------------------------------------------------------------------------------
# the hierarchy: each module synthesized once, blocks summed from their modules

#: The engine with the blocks it contains (the modules are the same either way).
ENGINE_BLOCKS = ["focus_engine", "systolic_array", "scatter_accumulator", "output_converter",
                 "similarity_gather"]


@pytest.fixture(scope="module")
def tiny_engine(tmp_path_factory):
    """The tiny engine in generic gates (mapping its matcher and converter to the liberty
    would triple the run time; the sums are the same code for every figure)."""
    return _flow(tmp_path_factory, "tiny-engine", ["area", "--config", "tiny", "--no-liberty",
                                                   "--no-reference",
                                                   "--blocks", ",".join(ENGINE_BLOCKS)])


def _manifest(out):
    return json.loads((out / "verilog" / "manifest.json").read_text())


def test_engine_is_the_sum_of_its_parts_and_its_glue(tiny_engine):
    result, out = tiny_engine
    blocks = {b.name: b for b in result.blocks}
    engine = blocks["focus_engine"]
    assert result.contains["focus_engine"] == ENGINE_BLOCKS[1:]
    # every module of the configuration is one Yosys run, in its own work directory
    names = [m.name for m in result.modules]
    assert sorted(names) == sorted(e["module"] for e in _manifest(out)["files"])
    assert len(set(names)) == len(names)
    assert sorted(p.name for p in (out / "modules").iterdir()) == sorted(names)
    # the engine is summed from the very runs its parts are summed from
    for part in ENGINE_BLOCKS[1:]:
        for module in blocks[part].modules:
            assert sum(m is module for m in engine.modules) == 1, module.name
    _assert_sum_of_parts(result, engine, ENGINE_BLOCKS[1:])
    text = (out / "report.md").read_text()
    assert "## Yosys runs" in text and text.count(" | synthesized |") + text.count(
        " | reused |") == len(names)


def test_sec_area_is_the_sum_of_its_parts_and_its_glue(tiny):
    result, _ = tiny
    blocks = {b.name: b for b in result.blocks}
    parts = result.contains["semantic_concentrator"]
    _assert_sum_of_parts(result, blocks["semantic_concentrator"], parts)


def _assert_sum_of_parts(result, container, part_names):
    """Every figure of ``container`` = the sum over its parts + its own module's logic."""
    blocks = {b.name: b for b in result.blocks}
    top = next(m for m in result.modules if m.name == container.module)
    glue = flow.BlockResult.of_module(top, result.options.liberty)
    parts = [blocks[name] for name in part_names]
    figures = [report.measure, lambda b: b.flip_flops(), lambda b: b.generic_cells(),
               lambda b: b.logic_transistors(), lambda b: b.sram_bits()]
    if result.options.liberty is not None:
        figures += [lambda b: b.cell_area(), lambda b: b.flop_area()]
    for figure in figures:
        assert figure(container) == pytest.approx(sum(figure(p) for p in parts) + figure(glue))
    assert 0 < report.measure(glue) < 0.1 * report.measure(container)


def test_changing_one_parameter_resynthesizes_only_its_modules(tiny_engine, tmp_path):
    before, out = tiny_engine
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    after = run_flow(parser().parse_args(
        ["area", "--config", "tiny", "--no-liberty", "--set", "scatter_lanes=1",
         "--no-reference",
         "--blocks", ",".join(ENGINE_BLOCKS), "--out", str(copy)]))
    tops = {b.name: b.module for b in after.blocks}
    old = {b.name: b.module for b in before.blocks}
    rerun = {m.name for m in after.modules if not m.reused}
    assert rerun == {tops["scatter_accumulator"], tops["focus_engine"]}
    assert tops["scatter_accumulator"] != old["scatter_accumulator"]
    reused = {m.name for m in after.modules if m.reused}
    assert reused == {m.name for m in before.modules} - {old["scatter_accumulator"],
                                                         old["focus_engine"]}
    assert {tops[name] for name in ("systolic_array", "output_converter",
                                    "similarity_gather")} <= reused


@needs_sta
def test_a_second_run_reuses_every_yosys_and_sta_run(tiny, tmp_path):
    first, out = tiny
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    again = run_flow(parser().parse_args([COMMAND, "--config", "tiny", "--blocks",
                                          ",".join(TINY_BLOCKS), "--out", str(copy)]))
    assert all(m.reused for m in again.modules)
    assert all(b.timing.reused for b in again.blocks + again.references)
    for old, new in zip(first.blocks + first.references, again.blocks + again.references):
        assert (new.name, new.cell_area(), new.timing.critical_ns) == \
            (old.name, old.cell_area(), old.timing.critical_ns)
    assert "(reused)" in (copy / "report.md").read_text()


@needs_sta
def test_timing_links_the_whole_hierarchy(tiny):
    """OpenSTA sees every cell of every module instance of a block (plus fanout buffers)."""
    result, _ = tiny
    for block in result.blocks + result.references:
        counts = block.instance_counts()
        leaves = sum(times * n for module, times in counts.items()
                     for cell, n in block.mapped[module].cells.items()
                     if cell not in block.generic and cell != "focus_sram")
        below = sum(times for module, times in counts.items() if module != block.module)
        assert block.timing.instances == leaves + below + block.timing.buffering.buffers
    array = next(b for b in result.blocks if b.name == "systolic_array")
    pe = next(m for m in array.modules if m.name.startswith("focus_processing_element_"))
    pe_cells = sum(pe.mapped[pe.top].cells.values())
    assert array.timing.instances > result.config.rows * result.config.cols * pe_cells


@needs_sta
def test_timing_of_a_container_crosses_module_boundaries(tiny):
    """OpenSTA times a path through a PE's ports: from the array or another PE into it."""
    _, out = tiny
    workdir = out / "blocks" / "systolic_array"
    script = workdir / "through.tcl"
    lines = (workdir / sta.STA_SCRIPT).read_text().splitlines()
    lines = [line for line in lines if not line.startswith(("report_", "puts"))]
    script.write_text("\n".join(lines + ["report_checks -path_delay max -through "
                                          "[get_pins {pe_1_1/*}]", ""]))
    done = subprocess.run([*sta_command(), "-exit", script.name], cwd=workdir,
                          capture_output=True, text=True, check=True)
    start = re.search(r"^Startpoint: (\S+)", done.stdout, re.M).group(1)
    end = re.search(r"^Endpoint: (\S+)", done.stdout, re.M).group(1)
    pins = re.findall(r"[v^] (\S+) \(", done.stdout)
    assert any(pin.startswith("pe_1_1/") for pin in pins)
    assert not (start.startswith("pe_1_1/") and end.startswith("pe_1_1/")), (start, end)


@pytest.mark.slow
def test_every_generated_block_synthesizes(tmp_path_factory):
    result, out = _flow(tmp_path_factory, "tiny-all", [COMMAND, "--config", "tiny"])
    assert [b.name for b in result.blocks] == [b.name for b in BLOCKS]
    assert all(report.measure(b) > 0 for b in result.blocks)


def test_full_synthesizes_each_block_flat_in_one_run(tmp_path_factory):
    result, out = _flow(tmp_path_factory, "tiny-full",
                        ["area", "--config", "tiny", "--full", "--no-liberty", "--no-reference",
                         "--blocks", "semantic_concentrator,offset_encoder"])
    assert [m.name for m in result.modules] == ["semantic_concentrator", "offset_encoder"]
    sec = result.blocks[0]
    assert list(sec.generic) == [sec.module]          # flattened: no submodule left
    assert sec.logic_transistors() > result.blocks[1].logic_transistors() > 0
    assert "**Flat** (`FULL=1`)" in (out / "report.md").read_text()


def test_without_a_liberty_the_report_says_so(tmp_path_factory):
    result, out = _flow(tmp_path_factory, "tiny-generic",
                        ["area", "--config", "tiny", "--no-liberty", "--no-reference",
                         "--blocks", "systolic_array"])
    text = (out / "report.md").read_text()
    assert "**No liberty file**" in text
    assert result.blocks[0].cell_area() is None
    assert report.measure(result.blocks[0]) == result.blocks[0].logic_transistors() > 0


def test_cli_errors_are_clear(capsys):
    assert main(["area", "--config", "nonexistent"]) == 2
    assert "unknown configuration" in capsys.readouterr().err
    assert main(["timing", "--config", "tiny", "--no-liberty"]) == 2
    assert "timing needs a liberty" in capsys.readouterr().err
    assert main(["area", "--config", "tiny", "--blocks", "nonexistent", "--no-liberty"]) == 2
    assert "unknown block(s) nonexistent" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# memories become SRAM bits

class _Buffer(wiring.Component):
    """A 200 x 12 memory with one write and one synchronous read port."""

    def __init__(self):
        super().__init__({"waddr": In(8), "wdata": In(12), "we": In(1), "raddr": In(8),
                          "rdata": Out(12)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=12, depth=200, init=[])
        write, read = mem.write_port(), mem.read_port()
        total = Signal(12)
        m.d.comb += [write.addr.eq(self.waddr), write.data.eq(self.wdata),
                     write.en.eq(self.we), read.addr.eq(self.raddr), self.rdata.eq(total)]
        m.d.sync += total.eq(total + read.data)
        return m


def test_memories_are_counted_as_sram_bits_not_flip_flops(tmp_path):
    rtl = verilog.convert(_Buffer(), name="buffer_top", emit_src=False)
    options = flow.Options(liberty=read_liberty(LIBERTY) if LIBERTY else None)
    block = flow.synthesize("buffer", "buffer_top", "memory test", rtl, tmp_path / "work",
                            options, yosys_version="test", log=lambda *_: None)
    assert [(m.depth, m.width, m.read_ports, m.write_ports) for m in block.memories] == \
        [(200, 12, 1, 1)]
    assert block.sram_bits() == 2400
    assert block.flip_flops() < 100  # the accumulator, not 2400 storage flip-flops


def test_rtlil_memory_dump_is_parsed():
    text = ("module \\top.sub\n  cell $mem_v2 \\buf\n    parameter \\SIZE 12800\n"
            "    parameter \\WIDTH 32'00000000000000000000000000010000\n"
            "    parameter \\RD_PORTS 1\n    parameter \\WR_PORTS 1\n  end\nend\n")
    [mem] = read_memories(text)
    assert (mem.module, mem.name, mem.bits) == ("top.sub", "buf", 12800 * 16)


# ----------------------------------------------------------------------------------------------
# text passes (no tools)

_LEAF = """\
module \\top.{name} (clk, {ports});
  reg \\$auto$verilog_backend.cc:2355:dump_module${n}  = 0;
  input clk;
  input [3:0] a;
  output [3:0] y;
  reg [3:0] y = 4'h0;
  always @(posedge clk)
    y <= a {op} 4'h1;
endmodule
"""


def _design(ops):
    top = ["module top(clk, a);", "  input clk;", "  input [3:0] a;"]
    leaves = []
    for index, op in enumerate(ops):
        name = f"leaf_{index}"
        ports = "a, y" if index % 2 else "y, a"   # header port order must not matter
        top.append(f"  \\top.{name}  {name} (.clk(clk), .a(a), .y());")
        leaves.append(_LEAF.format(name=name, ports=ports, n=index, op=op))
    return "\n".join(top) + "\nendmodule\n" + "".join(leaves)


def test_dedupe_merges_modules_identical_up_to_renaming():
    text, classes = netlist.dedupe_modules(_design(["+", "+", "-", "+"]))
    assert classes == {"top": ["top"], "top.leaf_0": ["top.leaf_0", "top.leaf_1", "top.leaf_3"],
                       "top.leaf_2": ["top.leaf_2"]}
    assert text.count("\nmodule ") + text.startswith("module") == 3
    assert text.count("\\top.leaf_0  leaf_") == 3 and "\\top.leaf_2  leaf_2" in text


def test_fanout_buffering_builds_balanced_trees():
    library = _toy_library()
    # the layout Yosys' write_verilog uses: one connection per line
    cells = [_instance("INV", "d", a="a", y="n")]
    cells += [_instance("INV", f"u{i}", a="n", y=f"o{i}") for i in range(100)]
    text = "module top(a);\n  input a;\n" + "".join(cells) + "endmodule\n"
    out, result = netlist.buffer_high_fanout(text, library, max_fanout=8, buffer_cell="BUF")
    assert result.worst_fanout == 100 and result.nets == 1
    # 13 leaf buffers of <= 8 loads, 2 buffers above them
    assert result.buffers == 15 and out.count(" BUF ") == 15
    assert out.count(".A(n)") == 2  # the driver's two subtrees
    again, second = netlist.buffer_high_fanout(out, library, max_fanout=8, buffer_cell="BUF")
    assert second.nets == 0 and second.worst_fanout <= 8


def _instance(cell, name, *, a, y):
    return f"  {cell} {name} (\n    .A({a}),\n    .Y({y})\n  );\n"


def _toy_library():
    import pathlib
    import tempfile
    text = """library (toy) {
      cell (INV) { area : 2; pin (A) { direction : input; capacitance : 0.01; }
                   pin (Y) { direction : output; function : "(!A)"; } }
      cell (BUF) { area : 3; pin (A) { direction : input; }
                   pin (Y) { direction : output; function : "A"; } }
      cell (DFF) { area : 9; ff (IQ, IQN) { next_state : "D"; clocked_on : "CK"; }
                   pin (CK) { direction : input; clock : true; }
                   pin (D) { direction : input; } pin (Q) { direction : output; function : "IQ"; } }
    }"""
    path = pathlib.Path(tempfile.mkdtemp()) / "toy.lib"
    path.write_text(text)
    return read_liberty(path)


def test_liberty_reader():
    library = _toy_library()
    assert library.name == "toy" and set(library.cells) == {"INV", "BUF", "DFF"}
    assert library.strongest_buffer().name == "BUF"
    assert library.cells["DFF"].sequential and not library.cells["INV"].sequential
    assert [p.name for p in library.cells["DFF"].pins if p.is_clock] == ["CK"]
    assert library.pin_direction("INV", "Y") == "output"


@needs_liberty
def test_osu018_liberty_has_what_the_flow_assumes():
    library = read_liberty(LIBERTY)
    assert library.area("DFFPOSX1") == 96 and library.strongest_buffer().name == "BUFX4"
    assert not any(name.startswith("TIE") for name in library.cells)  # see the report's note
    assert library.corner.startswith("typical")


def test_sta_log_reader():
    log = """Startpoint: a/r (rising edge-triggered flip-flop clocked by clk)
Endpoint: b/s (rising edge-triggered flip-flop clocked by clk)
   0.000    0.000 ^ a/r/CLK (DFFPOSX1)
   0.200    0.200 v a/r/Q (DFFPOSX1)
   0.100    0.300 ^ u1/Y (INVX1)
   0.100    0.400 v u2/Y (INVX1)
   0.000    0.400 v b/s/D (DFFPOSX1)
            0.400   data arrival time
worst slack 4.42
"""
    assert sta.read_sta_log(log) == (4.42, "a/r", "b/s", 3)
    assert sta.read_sta_log("No paths found.\n")[0] is None
    with pytest.raises(ValueError, match="OpenSTA"):
        sta.read_sta_log("Error: x.v line 3, syntax error\n")


def test_sram_instances_are_removed_for_timing():
    text = ("module t(a);\n  INV u (.A(a), .Y(b));\n  focus_sram #(\n    .SIZE(4)\n  ) m (\n"
            "    .RD_ADDR(a)\n  );\n  INV v (.A(b), .Y(c));\nendmodule")
    out, removed = sta.remove_instances(text, "focus_sram")
    assert removed == 1 and "focus_sram" not in out and "INV v" in out


@pytest.mark.parametrize("name, key", [
    ("systolic_array", "array"), ("importance_analyzer", "sec"), ("topk_sorter", "sec"),
    ("offset_encoder", "sec"), ("layouter", "sic"), ("similarity_matcher", "sic"),
    ("collector", "sic"), ("scatter_accumulator", "scatter"), ("focus_engine", "engine"),
    ("semantic_concentrator", "sec"), ("similarity_gather", "sic"),
    ("output_converter", "convert"), ("basic_fifo", "other"),
])
def test_block_categories(name, key):
    assert categorise(name).key == key


def test_roles_count_each_part_once():
    contains = {"semantic_concentrator": ["importance_analyzer", "topk_sorter"],
                "focus_engine": ["systolic_array", "scatter_accumulator"]}
    names = ["systolic_array", "importance_analyzer", "topk_sorter", "semantic_concentrator",
             "scatter_accumulator", "focus_engine"]
    assert roles(names, contains) == {
        "systolic_array": "counted", "importance_analyzer": "in semantic_concentrator",
        "topk_sorter": "in semantic_concentrator", "semantic_concentrator": "counted",
        "scatter_accumulator": "counted", "focus_engine": "contains others"}


def test_bar_chart_scales_bars_to_the_largest_value():
    data = bar_chart("t", [("a", 10, "10", 0, 0), ("b", 5, "5", 1, 1)], width=400)
    assert data.startswith(b"\x89PNG")


def test_zero_initialization_of_written_memories_is_dropped():
    def memory(name, value, written):
        return (f"  reg [7:0] {name} [1:0];\n  initial begin\n    {name}[0] = 8'h{value};\n"
                f"    {name}[1] = 8'h{value};\n  end\n"
                + (f"  always @(posedge clk)\n    if (we) {name}[\\$1 [0:0]] <= d;\n"
                   if written else ""))
    text = memory("ram", "00", True) + memory("rom", "00", False) + memory("table", "5a", True)
    out, stripped = netlist.strip_zero_memory_init(text)
    assert stripped == ["ram"]
    assert "ram[0] = " not in out and "rom[0] = 8'h00" in out and "table[1] = 8'h5a" in out
    assert "ram[\\$1 [0:0]] <= d" in out


def test_blackbox_stub_has_the_ports_of_the_module():
    text = ("module child(a, y, clk);\n  input [3:0] a;\n  wire [3:0] a;\n  output y;\n"
            "  reg y = 1'h0;\n  input clk;\nendmodule\n")
    stub = netlist.blackbox_stub(text, "child")
    assert stub.startswith("(* blackbox *)\nmodule child(a, y, clk);")
    assert "  input [3:0] a;" in stub and "  output y;" in stub and "reg" not in stub
    with pytest.raises(ValueError, match="no declaration found for port"):
        netlist.blackbox_stub("module child(a, b);\n  input a;\nendmodule\n", "child")


_CHILD = """module child(\\a[0] , \\a[1] , \\a[2] , y, clk);
  input \\a[0] ;
  input \\a[1] ;
  input \\a[2] ;
  output y;
  input clk;
endmodule
"""


def test_instances_of_split_modules_are_connected_bit_by_bit():
    parent = ("module top(\\b[0] , \\b[1] , clk, z);\n  input \\b[0] ;\n  input \\b[1] ;\n"
              "  input clk;\n  output z;\n  child u (\n"
              "    .a({ 1'b1, \\b[1] , \\b[0]  }),\n    .clk(clk),\n    .y(z)\n  );\n"
              "endmodule\n")
    out = netlist.split_instance_ports(_CHILD + parent)
    assert ".\\a[2] (1'b1)" in out and ".\\a[1] (\\b[1] )" in out
    assert ".\\a[0] (\\b[0] )" in out and ".clk(clk)" in out and ".y(z)" in out
    assert ".a(" not in out
    # the buffering pass sees the split connections as loads
    _, result = netlist.buffer_high_fanout(out, _toy_library(), max_fanout=8,
                                           buffer_cell="BUF")
    assert result.constant_pins == 1
    with pytest.raises(ValueError, match="port a has 3 bits, the connection 2"):
        netlist.split_instance_ports(_CHILD + parent.replace("1'b1, ", ""))


def test_containment_comes_from_the_manifest_hierarchy():
    def entry(module, children):
        return {"module": module, "file": f"{module}.v", "instantiates": children}
    manifest = {
        "blocks": [{"block": "focus_engine", "top": "e"}, {"block": "systolic_array", "top": "a"},
                   {"block": "processing_element", "top": "p"},
                   {"block": "semantic_concentrator", "top": "s"},
                   {"block": "topk_sorter", "top": "t"}],
        "files": [entry("p", []), entry("a", ["p"]), entry("e", ["a", "x"]), entry("x", []),
                  entry("t", []), entry("s", ["t"])]}
    contains = containment(manifest)
    assert contains == {"focus_engine": ["systolic_array", "processing_element"],
                        "systolic_array": ["processing_element"],
                        "semantic_concentrator": ["topk_sorter"]}
    assert roles([b["block"] for b in manifest["blocks"]], contains) == {
        "focus_engine": "contains others", "systolic_array": "counted",
        "processing_element": "in systolic_array", "semantic_concentrator": "counted",
        "topk_sorter": "in semantic_concentrator"}


def test_tasks_run_after_their_dependencies_and_in_parallel():
    running, peak, lock, order = [0], [0], threading.Lock(), []

    def job(name, seconds):
        def run(results):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(seconds)
            with lock:
                running[0] -= 1
                order.append(name)
            return name.upper()
        return run

    tasks = {"a": flow.Task(job("a", 0.2), weight=2), "b": flow.Task(job("b", 0.2), weight=1),
             "c": flow.Task(lambda results: results["a"] + results["b"], after=("a", "b"))}
    assert flow.run_tasks(tasks, 2) == {"a": "A", "b": "B", "c": "AB"}
    assert peak[0] == 2
    with pytest.raises(ValueError, match="unknown task"):
        flow.run_tasks({"x": flow.Task(job("x", 0), after=("y",))}, 1)

    def fail(results):
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        flow.run_tasks({"f": flow.Task(fail), "g": flow.Task(job("g", 0), after=("f",))}, 2)
    assert "g" not in order


def test_jobs_must_be_positive(capsys):
    assert main(["area", "--config", "tiny", "--no-liberty", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_prefix_adder_map_is_equivalent_to_the_ripple_adders(tmp_path):
    """The Kogge-Stone ``$lcu`` map the flow uses computes what Yosys' own adders compute:
    a SAT proof over adders, subtractors and comparators of several widths."""
    from synth import yosys as ys
    from synth.tools import yosys_command
    (tmp_path / ys.PREFIX_ADDER_FILE).write_text(ys.PREFIX_ADDER)
    (tmp_path / "arith.v").write_text(
        "module arith(input [26:0] a, input [26:0] b, input [4:0] c, input ci,\n"
        "             output [27:0] sum, output [26:0] diff, output lt, output [8:0] inc,\n"
        "             output [5:0] small);\n"
        "  assign sum = a + b + ci;\n  assign diff = a - b;\n  assign lt = a < b;\n"
        "  assign inc = a[8:0] + 9'd1;\n  assign small = c + b[4:0];\nendmodule\n")
    script = "\n".join([
        "read_verilog arith.v", "proc", "rename arith gold", "design -stash gold",
        "read_verilog arith.v", "proc", "alumacc",
        f"techmap -map {ys.PREFIX_ADDER_FILE} -map +/techmap.v", "opt_clean",
        "rename arith gate", "design -stash gate",
        "design -copy-from gold -as gold gold", "design -copy-from gate -as gate gate",
        "miter -equiv -flatten -make_assert gold gate miter",
        "sat -verify -prove-asserts -set-init-zero miter", ""])
    (tmp_path / "prove.ys").write_text(script)
    result = subprocess.run([*yosys_command(), "-q", "-l", "prove.log", "prove.ys"],
                            cwd=tmp_path, capture_output=True, text=True)
    log = (tmp_path / "prove.log").read_text()
    assert result.returncode == 0, log[-2000:]
    assert log.count("_80_focus_lcu_kogge_stone") >= 4      # the map replaced the carry chains
    assert "SUCCESS" in log
