"""``python -m synth area|timing``: area and timing reports of a configuration's blocks.

``area`` synthesizes every block of :data:`gen.blocks.BLOCKS` (plus one processing element per
registered number format) with Yosys and writes ``report.md``, ``report.csv`` and ``area.png``
into ``--out`` (default ``build/synth/<config>``, ``build/synth/<config>-full`` with
``--full``). ``timing`` does the same and adds OpenSTA's critical path and Fmax per block;
blocks whose inputs did not change since the last run are not synthesized again.
"""

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

from amaranth.back import verilog

from gen import cli as gen_cli
from gen.blocks import BLOCKS
from gen.config import get_config
from rtl.arith import FORMATS, get_format
from rtl.processing_element import ProcessingElement, shared_module_name

from . import flow
from .categories import containment, missing_categories, roles
from .liberty import read_liberty
from .report import Report, comparison, measure, write
from .tools import ToolError, default_liberty, sta_command, tool_version, yosys_command


def parser():
    parser = argparse.ArgumentParser(prog="python -m synth",
                                     description=__doc__.split("\n")[0])
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


def _reference_pes():
    """One standalone ProcessingElement per registered format: ``[(name, top, verilog)]``."""
    pes = []
    for dtype in sorted(FORMATS):
        fmt = get_format(dtype)
        name = shared_module_name(fmt)   # the module the array instantiates
        pes.append((f"pe_{dtype}", name,
                    verilog.convert(ProcessingElement(fmt), name=name, emit_src=False)))
    return pes


def _generate(config, label, out, *, wanted):
    """Run the generator on the ``wanted`` blocks into ``out/verilog``.

    Returns
    -------
    manifest : dict
    texts : dict
        Block name -> its Verilog (with the shared modules it instantiates).
    """
    directory = out / "verilog"
    selected = [block for block in BLOCKS if block.name in wanted]
    # gen.cli.generate has no block filter; narrow the list it iterates over.
    with mock.patch.object(gen_cli, "BLOCKS", selected):
        manifest = gen_cli.generate(config, directory, config_name=label, log=print)
    texts = {entry["block"]: (directory / entry["file"]).read_text()
             for entry in manifest["files"]}
    return manifest, texts


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


def _time_all(blocks, options, clocks):
    for block in blocks:
        flow.time_block(block, options, clock_port=clocks.get(block.name, "clk"))


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
    options = flow.Options(liberty=library, full=args.full, period_ns=args.period,
                           max_fanout=args.max_fanout, sram_um2_per_bit=args.sram_um2_per_bit)
    tools = {"yosys": tool_version(yosys_command()),
             "corner": library.corner if library else None,
             "sta": tool_version(sta_command()[:1], "-version") if timing else None}
    print(f"synth {args.command} {label}: {tools['yosys']}; "
          f"{library.path if library else 'no liberty'}; output {out}")

    manifest, texts = _generate(config, label, out, wanted=wanted)
    entries = manifest["files"]
    blocks, clocks = [], {}
    for entry in entries:
        blocks.append(flow.synthesize(entry["block"], entry["top"], entry["description"],
                                      texts[entry["block"]], out / entry["block"],
                                      options, yosys_version=tools["yosys"]))
        clocks[entry["block"]] = _clock_port(entry["ports"])
    references = []
    if not args.no_reference:
        for name, top, text in _reference_pes():
            references.append(flow.synthesize(name, top, "standalone processing element",
                                              text, out / "reference" / name, options,
                                              yosys_version=tools["yosys"]))
    names = [b.name for b in blocks]
    contains = containment({b.name: b.build(config) for b in BLOCKS if b.name in names})
    if timing:
        _time_all(blocks + references, options, clocks)
    generated = [block.name for block in BLOCKS]
    report = Report(label, config, options, blocks, references, missing_categories(generated),
                    tools, time.perf_counter() - started, timing, roles(names, contains),
                    contains, skipped=[name for name in generated if name not in names])
    paths = write(report, out)
    _summary(report, paths)
    return report


def _summary(report, paths):
    unit = "um^2" if report.options.liberty else "transistors"
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
    args = parser().parse_args(argv)
    try:
        run_flow(args)
    except (ValueError, NotImplementedError, ToolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
