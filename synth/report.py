"""The area/timing report: markdown, CSV and a PNG bar chart of the area breakdown."""

import csv
import dataclasses
import datetime
from pathlib import Path

from .categories import CATEGORIES, categorise
from .flow import BlockResult
from .png import bar_chart

#: Published figures (spec section 3.4; TSMC 28 nm, Synopsys DC, FP16 32x32 array).
PUBLISHED = {
    "array_mm2": 1.411,
    "pe_um2": 1378.0,
    "focus_logic_mm2": 0.0233,
    "focus_logic_pct": 1.65,
    "importance_buffer_mm2": 0.0588,
    "chip_pct": 2.7,
}
#: Published logic area per Focus category (mm^2, spec 3.4): SEC = 32 max units (the 25 KB
#: importance buffer is SRAM), SIC = cosine + inverse-norm + max + average-update units,
#: scatter = 2 accumulators. The units do not add up exactly to the published 0.0233 total.
PUBLISHED_CATEGORY_MM2 = {"sec": 0.0018, "sic": 0.0159 + 0.0035 + 0.00006 + 0.0012,
                          "scatter": 2 * 0.0025}
PUBLISHED["focus_with_sram_pct"] = 100.0 * (
    PUBLISHED["focus_logic_mm2"] + PUBLISHED["importance_buffer_mm2"]) / PUBLISHED["array_mm2"]

CSV_FIELDS = ["config", "block", "category", "status", "role", "std_cell_area_um2",
              "share_pct",
              "flip_flop_area_um2", "flip_flops", "generic_cells", "transistors",
              "sram_bits", "sram_area_est_um2", "critical_path_ns", "fmax_mhz",
              "yosys_seconds", "yosys_cpu_seconds", "reused"]


@dataclasses.dataclass
class Report:
    """Inputs of the report writers."""

    config_name: str
    config: object
    options: object
    blocks: list
    references: list
    missing: list
    tools: dict
    seconds: float
    timing: bool
    roles: dict = dataclasses.field(default_factory=dict)
    contains: dict = dataclasses.field(default_factory=dict)
    skipped: list = dataclasses.field(default_factory=list)
    modules: list = dataclasses.field(default_factory=list)     # flow.ModuleResult, one per run
    generation_seconds: float = 0.0


# ----------------------------------------------------------------------------------------------
# figures

def measure(block):
    """The figure shares are computed from: um^2 with a liberty, else transistors."""
    area = block.cell_area()
    return area if area is not None else float(block.logic_transistors())


def role(report, block):
    return report.roles.get(block.name, "counted")


def _counted(report):
    return [b for b in report.blocks if role(report, b) == "counted"]


def share_pct(report, block):
    if role(report, block) != "counted":
        return None
    total = sum(measure(b) for b in _counted(report))
    return 100.0 * measure(block) / total if total else None


def sram_area(report, block):
    bits = block.sram_bits()
    return bits * report.options.sram_um2_per_bit if bits else 0.0


def comparison(report):
    """Focus logic vs array: ``dict`` of our figures (``None`` where a part is missing)."""
    counted = _counted(report)
    array = [b for b in counted if categorise(b.name).key == "array"]
    focus = [b for b in counted if categorise(b.name).focus_logic]
    result = {"array": sum(measure(b) for b in array) if array else None,
              "focus_logic": sum(measure(b) for b in focus) if focus else None,
              "focus_sram_bits": sum(b.sram_bits() for b in focus),
              "focus_blocks": [b.name for b in focus],
              "missing_focus": [c.title for c in report.missing if c.focus_logic],
              "skipped_focus": sorted({categorise(n).title for n in report.skipped
                                       if categorise(n).focus_logic})}
    result["logic_pct"] = (100.0 * result["focus_logic"] / result["array"]
                           if result["array"] and result["focus_logic"] is not None else None)
    with_sram = None
    if result["logic_pct"] is not None and report.options.liberty is not None:
        sram = result["focus_sram_bits"] * report.options.sram_um2_per_bit
        with_sram = 100.0 * (result["focus_logic"] + sram) / result["array"]
    result["with_sram_pct"] = with_sram
    result["categories"] = {
        key: sum(measure(b) for b in focus if categorise(b.name).key == key)
        for key in PUBLISHED_CATEGORY_MM2 if any(categorise(b.name).key == key for b in focus)}
    return result


# ----------------------------------------------------------------------------------------------
# formatting

def _num(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _pct(value):
    return "-" if value is None else f"{value:.2f} %"


def _unit(report):
    return "um^2" if report.options.liberty is not None else "transistors"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _seconds(block):
    return f"{block.seconds:.1f}"


def module_rows(report):
    """Per Yosys run (a module, or a block with ``--full``): ``[{"module", "used_by", "own",
    "flip_flops", "seconds", "cpu_seconds", "reused"}]``; ``own`` is its own logic (um^2 with a liberty,
    else transistors), the modules it instantiates excluded."""
    rows = []
    targets = report.blocks + report.references
    for result in report.modules:
        own = BlockResult.of_module(result, report.options.liberty)
        rows.append({"module": result.name,
                     "used_by": [t.name for t in targets
                                 if any(m is result for m in t.modules)],
                     "own": measure(own), "flip_flops": own.flip_flops(),
                     "seconds": result.seconds, "cpu_seconds": result.cpu_seconds,
                     "reused": result.reused})
    return rows


# ----------------------------------------------------------------------------------------------
# markdown sections

def _header(report):
    options, config = report.options, report.config
    library = options.liberty
    runs = report.modules
    reused = [m.name for m in runs if m.reused]
    yosys_seconds = sum(m.seconds for m in runs)
    yosys_cpu = sum(m.cpu_seconds for m in runs)
    sta_seconds = [b.timing.seconds for b in report.blocks + report.references if b.timing]
    kind = "blocks" if options.full else "modules"
    lines = [
        f"# Area{' and timing' if report.timing else ''} report: `{report.config_name}`",
        "",
        f"Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `python -m synth` "
        f"in {report.seconds:.0f} s wall-clock (generation {report.generation_seconds:.0f} s); "
        f"Yosys time of all {len(runs)} {kind} {yosys_seconds:.0f} s wall, {yosys_cpu:.0f} s "
        "CPU (sums over the runs, ABC included)"
        + (f"; OpenSTA {sum(sta_seconds):.0f} s wall (sum)" if sta_seconds else "")
        + (f"; this run reused the unchanged synthesis of {len(reused)} of "
           f"{len(runs)} {kind}, with their original times." if reused else "."),
        "",
        f"- Configuration hash `{config.hash}`: "
        + ", ".join(f"{k}={v}" for k, v in config.to_dict().items()),
        f"- Yosys: {report.tools.get('yosys', '?')}",
    ]
    if library is not None:
        lines.append(f"- Cell library: `{library.name}` ({library.path}), "
                     f"corner {report.tools.get('corner', 'as in the liberty')}; "
                     f"ABC target period {options.period_ns} ns")
    else:
        lines.append("- **No liberty file** (give one with `LIBERTY=path`, or install "
                     "Debian's qflow-tech-osu018 with `make setup` as root): only the "
                     "generic-gate figures and the CMOS transistor estimate are reported; "
                     "shares are computed from transistors.")
    if report.timing:
        lines.append(f"- OpenSTA: {report.tools.get('sta', '?')}")
    lines.append(f"- Method: {'flat (FULL=1)' if options.full else 'hierarchical'} "
                 "(see Method below)")
    return "\n".join(lines)


def _blocks_section(report):
    unit = _unit(report)
    rows = []
    for block in report.blocks:
        category = categorise(block.name)
        rows.append([f"`{block.name}`", category.title, role(report, block),
                     _num(block.cell_area()), _pct(share_pct(report, block)),
                     _num(block.flip_flops()), _num(block.generic_cells()),
                     _num(block.logic_transistors()), _num(block.sram_bits()),
                     _num(sram_area(report, block)) if block.sram_bits() else "-",
                     _seconds(block)])
    for name in report.skipped:
        rows.append([f"`{name}`", categorise(name).title, "skipped (--blocks)"]
                    + ["-"] * 8)
    for category in report.missing:
        rows.append(["-", category.title, "not yet generated", category.units]
                    + ["-"] * 7)
    header = ["block", "category", "counted", "std-cell area um^2", f"share ({unit})",
              "flip-flops",
              "generic cells", "transistors (CMOS est.)", "SRAM bits", "SRAM um^2 (est.)",
              "Yosys s (its modules)"]
    note = ("Shares are of the sum of the counted blocks: a block that contains others of its "
            "own category replaces them (it includes their glue); one that spans categories "
            "(the engine) is listed but not summed. "
            "Transistors: Yosys `stat -tech cmos` on generic gates with flip-flops legalized "
            "to plain DFFs (16 T each); SRAM bits are counted separately"
            + ("" if all(b.transistors_exact() for b in report.blocks)
               else "; **some cell types are not priced, the estimate is a lower bound**")
            + ".")
    return "## Blocks\n\n" + _table(header, rows) + "\n\n" + note


def _parts_section(report):
    unit = _unit(report)
    out = []
    for block in report.blocks:
        if role(report, block).startswith("in "):
            continue
        parts = _parts(report, block)
        if not parts:
            continue
        total = measure(block)
        rows = [[name, _num(n), _num(each), _num(sub), _pct(100 * sub / total if total else None)]
                for name, n, each, sub in parts]
        out.append(f"### `{block.name}`\n\n"
                   + _table(["part", "instances", f"{unit} each", f"{unit} total",
                             "share of block"], rows))
    if not out:
        return ""
    return "## Breakdown by submodule\n\n" + "\n\n".join(out)


def _parts(report, block):
    """``block.parts()`` with the modules of generated blocks named after their block:
    ``systolic_array (focus_systolic_array_<hash>)``."""
    names = {b.module: b.name for b in report.blocks}
    return [((f"{names[part]} ({part})" if part in names else part), n, each, total)
            for part, n, each, total in block.parts()]


def _modules_section(report):
    if not report.modules:
        return ""
    unit = _unit(report)
    rows = [[f"`{row['module']}`", ", ".join(f"`{n}`" for n in row["used_by"]),
             _num(row["own"]), _num(row["flip_flops"]), f"{row['seconds']:.1f}",
             f"{row['cpu_seconds']:.1f}",
             "reused" if row["reused"] else "synthesized"] for row in module_rows(report)]
    if report.options.full:
        note = ("Flat method: one Yosys run per block (its whole hierarchy flattened), so a "
                "module contained in several blocks is synthesized in each.")
    else:
        note = ("Each distinct module of the configuration is synthesized once (children read "
                "as blackboxes); every block that needs it is summed from the same run. "
                f"Own {unit}: the module and its private submodules, without the modules it "
                "instantiates. Reused: inputs (RTL, child interfaces, script, tools, liberty) "
                "unchanged since an earlier run, which is not repeated (Yosys s is the "
                "original run's time).")
    return ("## Yosys runs\n\n" + _table(["module", "used by", f"own {unit}", "own flip-flops",
                                          "Yosys s", "CPU s", "this run"], rows) + "\n\n" + note)


def _pe_equivalents(report, figures):
    """Focus logic in units of (array area / PEs), ours next to the published figures."""
    if figures["logic_pct"] is None:
        return ""
    per_pe = figures["array"] / (report.config.rows * report.config.cols)
    published_pe = PUBLISHED["array_mm2"] / 1024
    rows = [["Focus logic", f"{figures['focus_logic'] / per_pe:.1f}",
             f"{PUBLISHED['focus_logic_mm2'] / published_pe:.1f}"]]
    for key, value in figures["categories"].items():
        rows.append([f"- {_category_title(key)}", f"{value / per_pe:.1f}",
                     f"{PUBLISHED_CATEGORY_MM2[key] / published_pe:.1f}"])
    return ("The same in PE equivalents (area / (array area / PEs)), a node-independent "
            "unit:\n\n" + _table(["logic", f"PEs ({report.config_name})",
                                   "PEs (published)"], rows))


def _category_title(key):
    return next(c.title for c in CATEGORIES if c.key == key)


def _category_rows(figures):
    """Per Focus category: our share of the array next to the published units' share."""
    rows = []
    for category in CATEGORIES:
        if category.key not in PUBLISHED_CATEGORY_MM2:
            continue
        ours = figures["categories"].get(category.key)
        published_mm2 = PUBLISHED_CATEGORY_MM2[category.key]
        absent = ("skipped (--blocks)" if category.title in figures["skipped_focus"]
                  else "not yet generated")
        rows.append([f"- {category.title} / array",
                     _pct(100 * ours / figures["array"])
                     if ours is not None and figures["array"] else absent,
                     f"{100 * published_mm2 / PUBLISHED['array_mm2']:.2f} % "
                     f"({published_mm2:.4f} mm^2)"])
    return rows


def _comparison_section(report):
    figures = comparison(report)
    missing = ", ".join(figures["missing_focus"]) or "none"
    absent = figures["missing_focus"] + figures["skipped_focus"]
    logic = (_pct(figures["logic_pct"]) if figures["logic_pct"] is not None
             else f"not yet generated (missing: {missing})")
    if figures["logic_pct"] is not None and absent:
        logic += f" (partial: not every block of {', '.join(absent)} is included)"
    sram = (_pct(figures["with_sram_pct"]) if figures["with_sram_pct"] is not None
            else ("needs a liberty" if report.options.liberty is None and
                  figures["logic_pct"] is not None else "not yet generated"))
    rows = [["Focus logic (SEC + SIC + scatter) / systolic array", logic,
             f"{PUBLISHED['focus_logic_pct']} % (0.0233 mm^2 / 1.411 mm^2)"]]
    rows += _category_rows(figures)
    rows += [
        ["Focus logic + its SRAM (est.) / systolic array", sram,
         f"{PUBLISHED['focus_with_sram_pct']:.1f} % (0.0233 mm^2 + the 0.0588 mm^2 importance "
         "buffer; derived from the table)"],
        ["Focus area / whole chip", "not modelled (no chip-level buffers here)",
         f"+{PUBLISHED['chip_pct']} % (3.21 vs 3.12 mm^2)"],
    ]
    blocks = ", ".join(f"`{n}`" for n in figures["focus_blocks"]) or "none yet"
    dtype = report.config.dtype
    text = (f"Focus blocks counted: {blocks}; not yet generated: {missing}. Focus SRAM: "
            f"{figures['focus_sram_bits']:,} bits (see Memories; it includes every buffer "
            "the Focus blocks own, e.g. tile buffers a dense design also needs). "
            "Absolute areas at 0.18 um (OSU cells, no placement) and at 28 nm (TSMC, Synopsys "
            "DC) are not comparable; only ratios are. "
            + ("The published array is FP16 like this configuration."
               if dtype == "fp16" else
               f"This configuration is {dtype}; the published array is FP16 (config `paper`), "
               "whose larger PEs make every Focus/array ratio smaller."))
    equivalents = _pe_equivalents(report, figures)
    return ("## Comparison with the published design\n\n"
            + _table(["ratio", f"this flow ({report.config_name})", "published (28 nm)"],
                     rows) + "\n\n" + (equivalents + "\n\n" if equivalents else "") + text)


def _memories_section(report):
    rows = []
    for block in report.blocks:
        counts = block.instance_counts()
        for memory in block.memories:
            n = counts.get(memory.module, 0)
            rows.append([f"`{block.name}`", role(report, block),
                         f"`{memory.module}.{memory.name}`",
                         f"{memory.depth:,} x {memory.width}",
                         f"{memory.read_ports}R/{memory.write_ports}W", str(n),
                         _num(n * memory.bits)])
    if not rows:
        return ("## Memories\n\nNo block has a memory (`amaranth.lib.memory`) yet: "
                "SRAM bits are 0.")
    return ("## Memories\n\nEvery `amaranth.lib.memory.Memory` (and FIFO storage) stays a "
            "memory: it is counted here in bits and is not part of the standard-cell area. "
            f"SRAM area estimate: {report.options.sram_um2_per_bit} um^2 per bit.\n\n"
            + _table(["block", "counted", "memory", "depth x width", "ports", "instances",
                      "bits"], rows))


def _reference_section(report):
    if not report.references:
        return ""
    unit = _unit(report)
    base = next((measure(r) for r in report.references if r.name.endswith("int8")), None)
    rows = []
    for ref in report.references:
        value = measure(ref)
        timing = ref.timing
        rows.append([f"`{ref.name}`", _num(ref.cell_area()), _num(ref.flip_flops()),
                     _num(ref.logic_transistors()),
                     f"{value / base:.2f}x" if base else "-",
                     _num(timing.critical_ns, 2) if timing else "-"])
    published = (f"Published: about {PUBLISHED['pe_um2']:,.0f} um^2 per FP16 PE at 28 nm "
                 "(1.411 mm^2 / 1024). Formats not registered in `gen.formats` are not listed; "
                 "they appear automatically once they exist.")
    return ("## Processing element by number format\n\nThe generator's `processing_element` "
            "block of this configuration with each registered dtype (the same module the "
            "array instantiates, all ports, i.e. an interior PE).\n\n"
            + _table(["PE", "std-cell area um^2", "flip-flops", "transistors",
                      f"vs int8 ({unit})", "critical path ns"], rows) + "\n\n" + published)


def _timing_section(report):
    if not report.timing:
        return ("## Timing\n\nNot run: `make timing CONFIG=" + report.config_name
                + "` adds OpenSTA's critical path and Fmax.")
    rows = []
    for block in report.blocks + report.references:
        t = block.timing
        if t is None:
            continue
        rows.append([f"`{block.name}`", _num(t.critical_ns, 3), _num(t.fmax_mhz, 1),
                     str(t.stages), f"`{t.startpoint}` -> `{t.endpoint}`",
                     f"{t.buffering.nets} nets / {t.buffering.buffers} buffers "
                     f"(worst fanout {t.buffering.worst_fanout})",
                     str(t.sram_instances), _num(t.instances),
                     f"{t.seconds:.1f}" + (" (reused)" if t.reused else ""),
                     _num(t.cpu_seconds, 1)])
    library = report.options.liberty
    note = (f"Setup check at the liberty's corner ({report.tools.get('corner', '?')}), clock "
            f"{report.options.period_ns} ns, ideal clock, no wires (the liberty has no wire-load "
            f"model). Inputs arrive at the clock edge through a {library.strongest_buffer().name} "
            f"(as from a register), outputs are captured at the next edge with "
            f"{report.options.output_load_pf} pF. Nets with more than "
            f"{report.options.max_fanout} loads get balanced {library.strongest_buffer().name} "
            "trees before timing (a placement tool would buffer them; ABC only buffers inside "
            "one module). Memories are blackboxes without a timing model: paths through them "
            "are not timed. Critical path = period - worst slack (includes setup). A block whose "
            "netlists and settings did not change since the last run is not timed again "
            "(reused).")
    return ("## Timing (OpenSTA)\n\n"
            + _table(["block", "critical path ns", "Fmax MHz", "cells on path",
                      "start -> end", "fanout buffering", "SRAMs untimed",
                      "instances linked", "STA s", "STA CPU s"], rows)
            + "\n\n" + note)


def _method_section(report):
    options = report.options
    lines = ["## Method", ""]
    if options.full:
        lines.append("- **Flat** (`FULL=1`): each block is flattened and synthesized as one "
                     "module, so Yosys/ABC may optimize across submodule boundaries.")
    else:
        merged = ", ".join(f"`{m.name}`: {sum(len(c) for c in m.classes.values())} -> "
                           f"{len(m.classes)}" for m in report.modules
                           if len(m.classes) < sum(len(c) for c in m.classes.values()))
        lines.append("- **Hierarchical** (default): the generator emits every distinct block once "
                     "as its own Verilog module, and Yosys synthesizes each module once (one run "
                     "per module, see Yosys runs), with the child modules it instantiates read "
                     "as blackboxes (their ports only). Inside a run, Amaranth's private "
                     "submodules identical up to renaming are merged"
                     + (f" ({merged})" if merged else "") + ". A block's figures are the sum "
                     "over its hierarchy of the per-module statistics weighted by instance "
                     "counts: area(array) = rows x cols x area(PE) + the array module's own "
                     "logic (skew/deskew registers, weight-bank control, output skid buffer); "
                     "area(engine) = its parts + its own glue. Nothing is synthesized twice and "
                     "nothing is optimized across module boundaries (ABC maps each module "
                     "separately; every PE counts as an interior PE); `FULL=1` synthesizes "
                     "each block flat instead.")
        if report.timing:
            lines.append("- Timing sees the whole hierarchy: OpenSTA reads the mapped netlists "
                         "of every module a block needs (each mapped once), links them from "
                         "the block's top and times every path end to end, across module "
                         "boundaries (see the instances it linked in the Timing section).")
    if report.contains:
        lines.append("- Containment (from the generator's manifest, the modules each block "
                     "needs): " + "; ".join(
            f"`{c}` contains {', '.join(f'`{p}`' for p in parts)}"
            for c, parts in report.contains.items()) + ".")
    lines += [
        "- Yosys: `synth` (coarse, memories kept by `memory -nomap`), memories replaced by "
        "`focus_sram` blackboxes and counted as SRAM bits (never flattened into flip-flops), "
        "`synth` fine to generic gates; `stat -tech cmos` after legalizing flip-flops.",
    ]
    if options.liberty is not None:
        lines += [
            f"- Library mapping: `dfflibmap`, `abc -liberty -D {options.period_ns * 1000:.0f} "
            "-constr` (delay target, buffering and sizing inside each module), area = sum of "
            "liberty cell areas.",
            "- The OSU 0.18 um library has no tie cells: constant inputs stay netlist constants "
            "(OpenSTA reads them as logic 0/1); its area would be a few cells per block. Its "
            "flip-flops have no enable, so enables/synchronous resets become gates in front of "
            "`DFFPOSX1`.",
            f"- SRAM area estimate: {options.sram_um2_per_bit} um^2 per bit, derived from the "
            "published 25 KB importance buffer (0.0588 mm^2 at 28 nm = 0.287 um^2/bit) scaled "
            "by (180/28)^2; an estimate, not a compiled macro.",
        ]
        unpriced = sorted({c for b in report.blocks + report.references
                           for c in b.unpriced_cells()})
        if unpriced:
            lines.append(f"- **Cells with zero area in the liberty were used**: "
                         f"{', '.join(unpriced)}; their area is missing from the totals.")
    return "\n".join(lines)


def markdown(report):
    """The whole report as markdown text."""
    sections = [_header(report), _blocks_section(report), _modules_section(report),
                _parts_section(report),
                _memories_section(report), _comparison_section(report),
                _reference_section(report),
                _timing_section(report), _method_section(report),
                "![area breakdown](area.png)"]
    return "\n\n".join(s for s in sections if s) + "\n"


# ----------------------------------------------------------------------------------------------
# CSV and chart

def csv_rows(report):
    """One dict per block, reference PE and missing category (columns :data:`CSV_FIELDS`)."""
    rows = []
    for block in report.blocks + report.references:
        reference = block in report.references
        timing = block.timing
        rows.append({
            "config": report.config_name, "block": block.name,
            "category": "reference" if reference else categorise(block.name).key,
            "status": "reference" if reference else "synthesized",
            "role": "reference" if reference else role(report, block),
            "std_cell_area_um2": _csv(block.cell_area()),
            "share_pct": "" if reference else _csv(share_pct(report, block), 3),
            "flip_flop_area_um2": _csv(block.flop_area()),
            "flip_flops": block.flip_flops(), "generic_cells": block.generic_cells(),
            "transistors": block.logic_transistors(), "sram_bits": block.sram_bits(),
            "sram_area_est_um2": _csv(sram_area(report, block)),
            "critical_path_ns": _csv(timing.critical_ns if timing else None, 3),
            "fmax_mhz": _csv(timing.fmax_mhz if timing else None, 1),
            "yosys_seconds": f"{block.seconds:.1f}",
            "yosys_cpu_seconds": f"{block.cpu_seconds:.1f}", "reused": block.reused})
    for row in module_rows(report):
        rows.append({**{f: "" for f in CSV_FIELDS}, "config": report.config_name,
                     "block": row["module"], "status": "yosys run",
                     "role": "used by " + " ".join(row["used_by"]),
                     "flip_flops": row["flip_flops"],
                     ("std_cell_area_um2" if report.options.liberty else "transistors"):
                         _csv(row["own"]),
                     "yosys_seconds": f"{row['seconds']:.1f}",
                     "yosys_cpu_seconds": f"{row['cpu_seconds']:.1f}", "reused": row["reused"]})
    for name in report.skipped:
        rows.append({**{f: "" for f in CSV_FIELDS}, "config": report.config_name,
                     "block": name, "category": categorise(name).key, "status": "skipped"})
    for category in report.missing:
        rows.append({**{f: "" for f in CSV_FIELDS}, "config": report.config_name,
                     "block": "", "category": category.key, "status": "not yet generated"})
    return rows


def _csv(value, digits=1):
    return "" if value is None else f"{value:.{digits}f}"


def chart_rows(report):
    """Bars: each block, then its submodule parts (indented)."""
    unit = _unit(report)
    rows = []
    for index, block in enumerate(_counted(report)):
        total = measure(block)
        share = share_pct(report, block)
        rows.append((block.name, total, f"{total:,.0f} {unit}"
                     + (f" {share:.1f} %" if share is not None else ""), index, 0))
        for name, n, _, sub in _parts(report, block):
            label = name.split(" (")[0] + (f" x{n}" if n > 1 else "")
            rows.append((label, sub, f"{100 * sub / total:.1f} % of block" if total else "",
                         index, 1))
    for category in report.missing:
        rows.append((f"{category.key}: not yet generated", 0, "-", 0, 0))
    return rows


def write(report, out_dir):
    """Write ``report.md``, ``report.csv`` and ``area.png`` into ``out_dir``; returns paths."""
    out_dir = Path(out_dir)
    paths = {"md": out_dir / "report.md", "csv": out_dir / "report.csv",
             "png": out_dir / "area.png"}
    paths["md"].write_text(markdown(report))
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(csv_rows(report))
    title = (f"Area breakdown: {report.config_name} "
             f"({_unit(report)}{', ' + report.options.liberty.name if report.options.liberty else ''})")
    paths["png"].write_bytes(bar_chart(title, chart_rows(report)))
    return paths
