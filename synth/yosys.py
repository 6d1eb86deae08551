"""The Yosys script of the flow and readers for what it writes.

One script per module (per block with ``--full``), run in its work directory; the child
modules it instantiates are read as blackboxes (``read_verilog -lib``):

1. ``synth -run :fine`` (coarse synthesis, memories kept as ``$mem_v2`` by ``memory -nomap``);
   the memories are dumped (``<prefix>.memories.il``) and replaced by instances of the blackbox
   ``focus_sram``, so they are reported as SRAM bits and never become flip-flops.
2. ``synth -run fine:``: generic gates -> ``<prefix>.generic.json``.
3. Flip-flops legalized to plain ``$_DFF_P_`` (+ gates) so ``stat -tech cmos`` can count every
   cell -> ``<prefix>.cmos.json`` (the CMOS transistor estimate).
4. With a liberty: ``dfflibmap``, ``abc -liberty -D <period> -constr`` (ABC also buffers and
   sizes) with :func:`abc_script`, ``<prefix>.mapped.json`` and the mapped netlist
   ``<prefix>.mapped.v``.
"""

import dataclasses
import json
import re

#: Blackbox standing in for every memory (one instance per ``$mem_v2``).
SRAM_LIB = """\
(* blackbox *)
module focus_sram (RD_CLK, RD_EN, RD_ADDR, RD_DATA, WR_CLK, WR_EN, WR_ADDR, WR_DATA);
  parameter SIZE = 1;
  parameter WIDTH = 1;
  parameter ABITS = 1;
  parameter RD_PORTS = 1;
  parameter WR_PORTS = 1;
  localparam R = RD_PORTS > 0 ? RD_PORTS : 1;
  localparam W = WR_PORTS > 0 ? WR_PORTS : 1;
  input [R-1:0] RD_CLK;
  input [R-1:0] RD_EN;
  input [R*ABITS-1:0] RD_ADDR;
  output [R*WIDTH-1:0] RD_DATA;
  input [W-1:0] WR_CLK;
  input [W*WIDTH-1:0] WR_EN;
  input [W*ABITS-1:0] WR_ADDR;
  input [W*WIDTH-1:0] WR_DATA;
endmodule
"""

#: techmap rule replacing Yosys' multi-port memory cell by the blackbox above.
SRAM_MAP = """\
(* techmap_celltype = "$mem_v2" *)
module focus_sram_map (RD_CLK, RD_EN, RD_ARST, RD_SRST, RD_ADDR, RD_DATA,
                       WR_CLK, WR_EN, WR_ADDR, WR_DATA);
  parameter MEMID = "";
  parameter signed SIZE = 4;
  parameter signed OFFSET = 0;
  parameter signed ABITS = 2;
  parameter signed WIDTH = 8;
  parameter signed INIT = 1'bx;
  parameter signed RD_PORTS = 1;
  parameter RD_WIDE_CONTINUATION = 1'b0;
  parameter RD_CLK_ENABLE = 1'b1;
  parameter RD_CLK_POLARITY = 1'b1;
  parameter RD_TRANSPARENCY_MASK = 1'b0;
  parameter RD_COLLISION_X_MASK = 1'b0;
  parameter RD_CE_OVER_SRST = 1'b0;
  parameter RD_INIT_VALUE = 1'bx;
  parameter RD_ARST_VALUE = 1'bx;
  parameter RD_SRST_VALUE = 1'bx;
  parameter signed WR_PORTS = 1;
  parameter WR_WIDE_CONTINUATION = 1'b0;
  parameter WR_CLK_ENABLE = 1'b1;
  parameter WR_CLK_POLARITY = 1'b1;
  parameter WR_PRIORITY_MASK = 1'b0;
  input [RD_PORTS-1:0] RD_CLK;
  input [RD_PORTS-1:0] RD_EN;
  input [RD_PORTS-1:0] RD_ARST;
  input [RD_PORTS-1:0] RD_SRST;
  input [RD_PORTS*ABITS-1:0] RD_ADDR;
  output [RD_PORTS*WIDTH-1:0] RD_DATA;
  input [WR_PORTS-1:0] WR_CLK;
  input [WR_PORTS*WIDTH-1:0] WR_EN;
  input [WR_PORTS*ABITS-1:0] WR_ADDR;
  input [WR_PORTS*WIDTH-1:0] WR_DATA;
  focus_sram #(.SIZE(SIZE), .WIDTH(WIDTH), .ABITS(ABITS), .RD_PORTS(RD_PORTS),
               .WR_PORTS(WR_PORTS))
    _TECHMAP_REPLACE_ (.RD_CLK(RD_CLK), .RD_EN(RD_EN), .RD_ADDR(RD_ADDR), .RD_DATA(RD_DATA),
                       .WR_CLK(WR_CLK), .WR_EN(WR_EN), .WR_ADDR(WR_ADDR), .WR_DATA(WR_DATA));
endmodule
"""

#: techmap rule for Yosys' ``$lcu`` (the carry chain of every ``$alu``: adders, subtractors,
#: comparators): a Kogge-Stone parallel prefix, log2(width) levels deep, where Yosys' own
#: ``techmap.v`` would build a ripple chain that ABC cannot restructure. This is what a
#: timing-driven commercial flow does with its fast adder library; it costs a few per cent of
#: area and is checked for equivalence in ``tests/test_synth.py``.
PREFIX_ADDER = """\
// Kogge-Stone parallel-prefix carry network for Yosys' $lcu cells (the carry chain of every
// $alu): log2(WIDTH) levels of (generate, propagate) combination instead of a ripple.
// Named _80_... so that techmap prefers it to the ripple _90_lcu of Yosys' techmap.v.
(* techmap_celltype = "$lcu" *)
module _80_focus_lcu_kogge_stone (P, G, CI, CO);
  parameter WIDTH = 2;
  (* force_downto *) input [WIDTH-1:0] P, G;
  input CI;
  (* force_downto *) output [WIDTH-1:0] CO;
  localparam LEVELS = WIDTH > 1 ? $clog2(WIDTH) : 0;
  // level l of (generate, propagate) at bits [l*WIDTH +: WIDTH]; the carry-in joins bit 0
  wire [(LEVELS+1)*WIDTH-1:0] g, p;
  assign g[WIDTH-1:0] = G | {{(WIDTH-1){1'b0}}, P[0] & CI};
  assign p[WIDTH-1:0] = P;
  genvar l, i;
  generate
    for (l = 0; l < LEVELS; l = l + 1) begin : level
      for (i = 0; i < WIDTH; i = i + 1) begin : bit
        if (i >= (1 << l)) begin : combine
          assign g[(l+1)*WIDTH + i] = g[l*WIDTH + i] | (p[l*WIDTH + i] & g[l*WIDTH + i - (1 << l)]);
          assign p[(l+1)*WIDTH + i] = p[l*WIDTH + i] & p[l*WIDTH + i - (1 << l)];
        end else begin : pass
          assign g[(l+1)*WIDTH + i] = g[l*WIDTH + i];
          assign p[(l+1)*WIDTH + i] = p[l*WIDTH + i];
        end
      end
    end
  endgenerate
  assign CO = g[LEVELS*WIDTH +: WIDTH];
endmodule
"""

SRAM_CELL = "focus_sram"
SRAM_LIB_FILE = "focus_sram_lib.v"
SRAM_MAP_FILE = "focus_sram_map.v"
PREFIX_ADDER_FILE = "focus_prefix_adder.v"
CONSTR_FILE = "abc.constr"
ABC_SCRIPT_FILE = "abc.script"
LIBERTY_FILE = "cells.lib"


def abc_script(period_ps):
    """The ABC script of the liberty mapping: Yosys's default for ``-liberty -D -constr`` with
    a conflict limit on ``&fraig -x`` (10 per SAT call). Unlimited, its SAT sweeping ran for
    more than 40 minutes on the SIC matcher (31,000 gates; 16 fp16 products and the exact
    comparators' wide products) where the limited one takes 5 seconds; without it ABC's
    mapping of the fp16 PE is 0.37 ns slower."""
    delay = f"-D {int(period_ps)}"
    return "\n".join([
        "strash", "&get -n", "&fraig -x -C 10", "&put", "scorr", "dc2", "dretime",
        f"retime -o {delay}", "strash", "&get -n", "&dch -f", f"&nf {delay}", "&put",
        "buffer", f"upsize {delay}", f"dnsize {delay}", "stime -p",
    ]) + "\n"


def abc_constraints(buffer_cell, output_load_pf):
    """ABC ``-constr`` file: inputs driven by ``buffer_cell``, outputs loaded (pF)."""
    return f"set_driving_cell {buffer_cell}\nset_load {output_load_pf}\n"


def synthesis_script(*, design, top, prefix, blackboxes=None, flatten=False, liberty=False,
                     period_ps=5000):
    """Yosys script text for one module (all file names relative to the work directory).

    Parameters
    ----------
    design : str
        RTL Verilog file.
    top : str
        Top module name.
    prefix : str
        Prefix of every output file.
    blackboxes : str, optional
        Verilog file of the child modules ``top`` instantiates, read as blackboxes (they are
        synthesized by their own runs).
    flatten : bool
        Flatten the hierarchy (``FULL=1``) instead of synthesizing each module once.
    liberty : bool
        Also map to the cell library :data:`LIBERTY_FILE` (with :data:`CONSTR_FILE`).
    period_ps : int
        Clock period target for ABC's delay-oriented mapping.
    """
    lines = [
        f"read_verilog {design}",
        f"read_verilog -lib {SRAM_LIB_FILE}",
        *([f"read_verilog -lib {blackboxes}"] if blackboxes else []),
        f"hierarchy -check -top {top}",
        f"synth -top {top}{' -flatten' if flatten else ''} -run :fine",
        f"dump -m -o {prefix}.memories.il t:$mem_v2",
        f"techmap -map {SRAM_MAP_FILE} t:$mem_v2",
        f"techmap -map {PREFIX_ADDER_FILE} -map +/techmap.v",
        f"synth -top {top} -run fine:",
        f"tee -q -o {prefix}.generic.json stat -json",
        "dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_N_ 01 -cell $_DFF_PP0_ 01 "
        "-cell $_DFF_PP1_ 01",
        "opt_clean",
        f"tee -q -o {prefix}.cmos.json stat -json -tech cmos",
    ]
    if liberty:
        lines += [
            f"dfflibmap -liberty {LIBERTY_FILE}",
            f"abc -script {ABC_SCRIPT_FILE} -liberty {LIBERTY_FILE} -D {int(period_ps)} "
            f"-constr {CONSTR_FILE}",
            "opt_clean -purge",
            f"tee -q -o {prefix}.mapped.json stat -json",
            f"tee -q -o {prefix}.mapped.stat.txt stat -liberty {LIBERTY_FILE}",
            "splitnets -ports",
            "opt_clean -purge",
            f"write_verilog -noattr -noexpr -nohex -nodec {prefix}.mapped.v",
        ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Memory:
    """One memory (``$mem_v2``) of a module."""

    module: str
    name: str
    depth: int
    width: int
    read_ports: int
    write_ports: int

    @property
    def bits(self):
        return self.depth * self.width


def _strip(name):
    return name[1:] if name.startswith("\\") else name


def _rtlil_int(text):
    text = text.strip()
    match = re.fullmatch(r"(\d+)'([01xz]+)", text)
    if match:
        return int(match.group(2).replace("x", "0").replace("z", "0"), 2)
    return int(text)


def read_memories(text):
    """Parse the RTLIL ``dump`` of the ``$mem_v2`` cells into :class:`Memory` objects."""
    memories, module, cell, params = [], None, None, {}

    def close():
        if cell is not None:
            memories.append(Memory(module, cell, _rtlil_int(params["SIZE"]),
                                   _rtlil_int(params["WIDTH"]),
                                   _rtlil_int(params.get("RD_PORTS", "0")),
                                   _rtlil_int(params.get("WR_PORTS", "0"))))

    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "module":
            module = _strip(words[1])
        elif len(words) >= 3 and words[0] == "cell" and words[1].startswith("$mem"):
            cell, params = _strip(words[2]), {}
        elif cell is not None and len(words) >= 3 and words[0] == "parameter":
            params[_strip(words[1])] = words[2]
        elif cell is not None and words == ["end"]:
            close()
            cell = None
    return memories


@dataclasses.dataclass
class ModuleStats:
    """Cell counts of one module at one stage (submodule instances included by type)."""

    name: str
    cells: dict
    transistors: int = 0
    transistors_complete: bool = True


_HIERARCHY_LINE_RE = re.compile(r"^\s+[^\s\"{}\[\]]\S*\s+\d+\s*$")


def read_stat_json(text):
    """``{module name: ModuleStats}`` from ``stat -json`` output (Yosys 0.23 ... 0.70)."""
    # Yosys 0.23 prints the indented instance tree of nested hierarchies into the JSON; keep
    # only JSON lines.
    lines = [line for line in text[text.find("{"):].splitlines()
             if not _HIERARCHY_LINE_RE.match(line)]
    data = json.loads("\n".join(lines))
    stats = {}
    for name, entry in data.get("modules", {}).items():
        transistors = str(entry.get("estimated_num_transistors", "0"))
        stats[_strip(name)] = ModuleStats(
            _strip(name),
            {_strip(t): int(n) for t, n in entry.get("num_cells_by_type", {}).items()},
            int(transistors.rstrip("+") or 0),
            not transistors.endswith("+"))
    return stats
