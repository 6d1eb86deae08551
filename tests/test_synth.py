"""The Yosys area / OpenSTA timing flow (synth/) on the tiny configuration.

The flow runs once per module (a file lock shares it between pytest-xdist workers); unit tests
of the text passes need no tools at all.
"""

import contextlib
import csv
import fcntl
import os
import re
import struct
import zlib

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from gen.blocks import BLOCKS
from rtl.arith import FORMATS
from synth import flow, netlist, report, sta
from synth.categories import CATEGORIES, categorise, missing_categories, roles
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
TINY_BLOCKS = [name for name in ("systolic_array", "importance_analyzer", "topk_sorter",
                                 "offset_encoder", "semantic_concentrator")
               if name in {b.name for b in BLOCKS}]
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
    assert report.share_pct(result, result.blocks[1]) is None


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
    pes = {m: n for m, n in array.instance_counts().items() if re.search(r"\.pe_\d+_\d+$", m)}
    assert sum(pes.values()) == config.rows * config.cols
    assert len(pes) < config.rows * config.cols  # identical PEs were merged
    shared = [m for m in array.instance_counts() if m.startswith("focus_pe_")]
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


@pytest.mark.slow
def test_every_generated_block_synthesizes(tmp_path_factory):
    result, out = _flow(tmp_path_factory, "tiny-all", [COMMAND, "--config", "tiny"])
    assert [b.name for b in result.blocks] == [b.name for b in BLOCKS]
    assert all(report.measure(b) > 0 for b in result.blocks)


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
