"""``python -m synth area|timing|fpga``: area and timing reports of a configuration's blocks.

``area`` generates the blocks of :data:`gen.blocks.BLOCKS` (plus the processing element of
every registered number format) with :func:`gen.generate.generate`, synthesizes every
distinct module once with Yosys (in parallel, ``--jobs``), sums each block from its modules and
writes ``report.md``, ``report.csv`` and ``area.png`` into ``--out`` (default
``build/synth/<config>``, ``build/synth/<config>-full`` with ``--full``). ``timing`` does the
same and adds OpenSTA's critical path and Fmax per block, timed on the linked hierarchy of its
mapped modules. Modules whose inputs did not change since the last run are not synthesized
again. ``fpga`` (:mod:`synth.fpga`, its own options) places and routes blocks on a Lattice
ECP5-85k with the YoWASP Yosys and nextpnr.
"""

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from gen.blocks import BLOCKS
from gen.config import get_config
from gen.formats import FORMATS
from gen.generate import generate

from . import flow
from .categories import containment, missing_categories, roles
from .liberty import read_liberty
from .report import Report, comparison, measure, module_rows, write
from .tools import ToolError, default_liberty, sta_command, tool_version, yosys_command


def parser():
    parser = argparse.ArgumentParser(prog="python -m synth",
                                     description=__doc__.split("\n")[0],
                                     epilog="python -m synth fpga --help: the ECP5 place and "
                                            "route flow, with options of its own")
    parser.add_argument("command", choices=("area", "timing"))
    parser.add_argument("--config", default="paper", help="named configuration (default paper)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter, e.g. --set rows=8 --set cols=8")
    parser.add_argument("--liberty", type=Path,
                        help=f"Liberty file (default {flow_default_liberty()})")
    parser.add_argument("--no-liberty", action="store_true",
                        help="generic gates and transistor estimate only")
    parser.add_argument("--full", action="store_true",
                        help="synthesize each block flat instead of hierarchically")
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument("--period", type=float, default=5.0, metavar="NS",
                        help="clock period for ABC and OpenSTA (default 5.0 ns)")
    parser.add_argument("--max-fanout", type=int, default=16,
                        help="loads per driver before a buffer tree is added for timing")
    parser.add_argument("--sram-um2-per-bit", type=float, default=11.9,
                        help="SRAM area estimate per bit (default 11.9, see report)")
    parser.add_argument("--blocks", metavar="NAME,...",
                        help="synthesize only these blocks (the others are listed as skipped)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the per-format processing element comparison")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel Yosys / OpenSTA runs and elaboration processes "
                             "(default: CPU count)")
    return parser


def flow_default_liberty():
    found = default_liberty()
    return found if found else "none installed"


def _liberty(args):
    if args.no_liberty:
        return None
    path = args.liberty or default_liberty()
    if path is None:
        return None
    if not Path(path).is_file():
        raise ValueError(f"liberty file {path} does not exist")
    return read_liberty(Path(path).resolve())


@dataclasses.dataclass(frozen=True)
class Target:
    """A block (or reference PE) of the report: what is synthesized and timed for it.

    ``units`` are the keys of the Yosys runs it is summed from (children before parents).
    """

    name: str
    top: str
    description: str
    units: tuple
    workdir: Path
    clock: object


def _generate(config, label, directory, *, blocks, jobs):
    """Run the generator on ``blocks`` into ``directory``.

    Returns
    -------
    manifest : dict
    texts : dict
        Module name -> the Verilog of its file.
    """
    manifest, _ = generate(config, directory, blocks=blocks, config_name=label, jobs=jobs,
                           log=print)
    texts = {entry["module"]: (directory / entry["file"]).read_text()
             for entry in manifest["files"]}
    return manifest, texts


def _units(manifest, texts, out, *, full, targets_dir, names=None):
    """``({unit key: flow.Unit}, [Target])`` of a manifest's blocks.

    Hierarchical: one unit per module file (``<out>/modules/<module>``, shared by every block
    that needs it), its children read as blackboxes; a block's units are the modules it needs.
    Flat (``full``): one unit per block on all its files. Targets (the block's OpenSTA files,
    and its flat Yosys run) go into ``targets_dir/<name>``; ``names`` renames blocks.
    """
    files = {entry["file"]: entry for entry in manifest["files"]}
    units, targets = {}, []
    for block in manifest["blocks"]:
        name = (names or {}).get(block["block"], block["block"])
        modules = [files[file]["module"] for file in block["files"]]
        workdir = targets_dir / name
        if full:
            units[name] = flow.Unit(name, block["top"], "".join(texts[m] for m in modules),
                                    workdir, flatten=True)
            keys = (name,)
        else:
            for module in modules:
                children = files[f"{module}.v"]["instantiates"]
                units[module] = flow.Unit(module, module, texts[module],
                                          out / "modules" / module,
                                          {child: texts[child] for child in children})
            keys = tuple(modules)
        targets.append(Target(name, block["top"], block["description"], keys, workdir,
                              _clock_port(block["ports"])))
    return units, targets


def _references(config, out, *, full, jobs):
    """The ``processing_element`` block of ``config`` with every registered dtype: its units
    and one target per format (``pe_<dtype>``, files in ``<out>/reference/``)."""
    units, targets = {}, []
    for dtype in sorted(FORMATS):
        name = f"pe_{dtype}"
        manifest, texts = _generate(config.replace(dtype=dtype), name,
                                    out / "reference" / name / "verilog",
                                    blocks=["processing_element"], jobs=jobs)
        found, (target,) = _units(manifest, texts, out, full=full,
                                  targets_dir=out / "reference",
                                  names={"processing_element": name})
        _merge_units(units, found)
        targets.append(dataclasses.replace(target, description="standalone processing element"))
    return units, targets


def _wanted_blocks(blocks):
    """Block names selected by ``--blocks`` (all of :data:`BLOCKS` when not given)."""
    known = [block.name for block in BLOCKS]
    if not blocks:
        return known
    wanted = [name.strip() for name in blocks.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(f"--blocks: unknown block(s) {', '.join(unknown)}; "
                         f"known: {', '.join(known)}")
    return wanted


def _clock_port(ports):
    return "clk" if any(p["name"] == "clk" and p["direction"] == "input" for p in ports) else None


def _merge_units(units, more):
    """Add ``more`` to ``units``; a module reached twice must have the same text."""
    for key, unit in more.items():
        known = units.setdefault(key, unit)
        if known.rtl != unit.rtl or known.children != unit.children:
            raise ValueError(f"module {key} was generated with two different texts")


def _tasks(units, targets, options, *, yosys_version, timing):
    """One Yosys task per unit and, for ``timing``, one OpenSTA task per target."""
    tasks = {("yosys", key): flow.Task(
        lambda results, unit=unit: flow.synthesize_unit(unit, options,
                                                        yosys_version=yosys_version),
        weight=len(unit.rtl)) for key, unit in units.items()}
    if timing:
        for target in targets:
            tasks[("sta", target.name)] = flow.Task(
                lambda results, target=target: flow.time_block(
                    _assemble(target, results, options), options, clock_port=target.clock),
                after=tuple(("yosys", key) for key in target.units),
                weight=-1.0 / len(target.units))
    return tasks


def _assemble(target, results, options):
    """The :class:`flow.BlockResult` of ``target`` from the Yosys results."""
    return flow.BlockResult(target.name, target.top, target.description,
                            [results[("yosys", key)] for key in target.units],
                            options.liberty, target.workdir)


def run_flow(args):
    """Run the flow for parsed ``args``; returns the :class:`Report`."""
    started = time.perf_counter()
    config = get_config(args.config).with_overrides(args.set)
    wanted = _wanted_blocks(args.blocks)
    label = args.config + (f"-{config.hash}" if args.set else "")
    out = args.out or Path("build") / "synth" / (label + ("-full" if args.full else ""))
    out.mkdir(parents=True, exist_ok=True)
    library = _liberty(args)
    timing = args.command == "timing"
    if timing and library is None:
        raise ToolError("timing needs a liberty file: give --liberty PATH (LIBERTY=path) or "
                        "install qflow-tech-osu018 (make setup as root)")
    if timing and sta_command() is None:
        raise ToolError("timing needs OpenSTA (sta): install Debian's opensta (make setup "
                        "as root)")
    if args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    options = flow.Options(liberty=library, full=args.full, period_ns=args.period,
                           max_fanout=args.max_fanout, sram_um2_per_bit=args.sram_um2_per_bit)
    tools = {"yosys": tool_version(yosys_command()),
             "corner": library.corner if library else None,
             "sta": tool_version(sta_command()[:1], "-version") if timing else None}
    print(f"synth {args.command} {label}: {tools['yosys']}; "
          f"{library.path if library else 'no liberty'}; output {out}; {args.jobs} jobs")

    manifest, texts = _generate(config, label, out / "verilog", blocks=wanted, jobs=args.jobs)
    units, targets = _units(manifest, texts, out, full=args.full, targets_dir=out / "blocks")
    references = []
    if not args.no_reference:
        more, references = _references(config, out, full=args.full, jobs=args.jobs)
        _merge_units(units, more)
    generated = time.perf_counter() - started
    results = flow.run_tasks(_tasks(units, targets + references, options,
                                    yosys_version=tools["yosys"], timing=timing), args.jobs)
    blocks, reference_results = ([_assemble(t, results, options) for t in group]
                                 for group in (targets, references))
    for block in blocks + reference_results:
        block.timing = results.get(("sta", block.name))
    modules = [results[("yosys", key)] for key in units]
    names = [b.name for b in blocks]
    contains = containment(manifest)
    all_blocks = [block.name for block in BLOCKS]
    report = Report(label, config, options, blocks, reference_results,
                    missing_categories(all_blocks), tools, time.perf_counter() - started,
                    timing, roles(names, contains), contains,
                    skipped=[name for name in all_blocks if name not in names],
                    modules=modules, generation_seconds=generated)
    paths = write(report, out)
    _summary(report, paths)
    return report


def _summary(report, paths):
    unit = "um^2" if report.options.liberty else "transistors"
    print("Yosys runs (one per module; per block with --full):")
    for row in module_rows(report):
        print(f"  {row['module']:44s} {row['own']:14,.0f} {unit}  yosys {row['seconds']:7.1f} s"
              f" ({row['cpu_seconds']:6.1f} s CPU)  {'reused' if row['reused'] else 'synthesized'}")
    print("blocks:")
    for block in report.blocks + report.references:
        line = f"  {block.name:24s} {measure(block):14,.0f} {unit}"
        if block.timing and block.timing.critical_ns:
            line += f"  {block.timing.critical_ns:6.3f} ns  {block.timing.fmax_mhz:7.1f} MHz"
        print(line)
    figures = comparison(report)
    if figures["logic_pct"] is not None:
        print(f"  Focus logic / array: {figures['logic_pct']:.2f} % (published 1.65 %)")
    else:
        print("  Focus logic / array: Focus blocks not yet generated")
    print(f"report: {paths['md']} ({report.seconds:.0f} s)")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["fpga"]:
        from . import fpga
        return fpga.main(argv[1:])
    args = parser().parse_args(argv)
    try:
        run_flow(args)
    except (ValueError, NotImplementedError, ToolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
