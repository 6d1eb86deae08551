"""``python -m power``: power and energy per operation of a configuration's blocks.

Synthesizes the FocusEngine and the SEC top (the timing flow, modules reused when unchanged),
records switching activity in Verilator on realistic stimulus (dense and concentrated
engine tiles, one SEC layer), annotates it on the mapped netlists and reports OpenSTA power per
block. Output: ``build/power/<config>/`` (``report.md``, ``power.csv``, ``energy.json`` for
the system model, ``energy.png``).
"""

import argparse
import sys
import time
from pathlib import Path

from gen.config import get_config
from synth.tools import ToolError

from . import flow, report

__all__ = ["main"]


def parser():
    p = argparse.ArgumentParser(prog="python -m power", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="paper", help="named configuration (default paper)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one parameter, e.g. --set matchers=7")
    p.add_argument("--out", type=Path, help="output directory (default build/power/<config>)")
    p.add_argument("--period", type=float, default=5.0, metavar="NS",
                   help="clock period of synthesis and OpenSTA (default 5.0 ns)")
    p.add_argument("--slices", type=int, default=4, help="K-slices per output tile (default 4)")
    p.add_argument("--tiles", type=int, default=2,
                   help="output tiles per engine run (default 2)")
    p.add_argument("--geometry", help="token geometry of the engine's stimulus (default: "
                                      "tiny/small for those configurations, else llava-video)")
    p.add_argument("--sec-tokens", type=int,
                   help="tokens M of the SEC layer (default min(max_tokens, 1024))")
    p.add_argument("--sec-keep", type=float, default=0.4,
                   help="fraction of the SEC layer's tokens kept (default 0.4)")
    p.add_argument("--pe-columns", metavar="C,...",
                   help="trace only the PEs of these array columns, the others take the "
                        "activity of the nearest traced column ('all': every PE; default: "
                        f"every PE up to {flow.FULL_TRACE_PES} PEs, else columns 0 and cols/2)")
    p.add_argument("--synth-dir", type=Path,
                   help="synthesis work directory (default <out>/synth); the directory of an "
                        "earlier 'python -m synth timing' run reuses its mapped modules")
    p.add_argument("--no-sec", action="store_true", help="skip the SEC top")
    p.add_argument("--zeros", action="store_true",
                   help="also run the dense workload with all-zero activations (a check: the "
                        "array's power must drop)")
    p.add_argument("--jobs", type=int, default=2, help="parallel OpenSTA / Yosys runs")
    return p


def run(args):
    started = time.perf_counter()
    config = get_config(args.config).with_overrides(args.set)
    label = args.config + (f"-{config.hash}" if args.set else "")
    out = args.out or Path("build") / "power" / label
    for name, value, low in (("--slices", args.slices, 1), ("--tiles", args.tiles, 1),
                             ("--jobs", args.jobs, 1)):
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
    if not 0 < args.sec_keep <= 1:
        raise ValueError(f"--sec-keep must be in (0, 1], got {args.sec_keep}")
    if args.sec_tokens is not None and not 1 <= args.sec_tokens <= config.max_tokens:
        raise ValueError(f"--sec-tokens must be in 1..{config.max_tokens} (max_tokens), got "
                         f"{args.sec_tokens}")
    columns = None
    if args.pe_columns == "all":
        columns = ()
    elif args.pe_columns:
        try:
            columns = tuple(int(c) for c in args.pe_columns.split(","))
        except ValueError:
            raise ValueError(f"--pe-columns must be 'all' or column numbers like 0,16, got "
                             f"{args.pe_columns!r}") from None
        bad = [c for c in columns if not 0 <= c < config.cols]
        if bad:
            raise ValueError(f"--pe-columns {bad} out of range 0..{config.cols - 1} (cols)")
    options = flow.Options(
        args.config, overrides=tuple(args.set), out=out, period_ns=args.period,
        jobs=args.jobs, slices=args.slices, tiles=args.tiles, geometry=args.geometry,
        sec_tokens=args.sec_tokens, sec_keep=args.sec_keep, pe_columns=columns,
        zeros=args.zeros, sec=not args.no_sec, synth_dir=args.synth_dir)
    print(f"power {label}: output {out}")
    blocks = flow.synthesize(options)
    simulations = flow.simulate(options, config)
    runs = {}
    for name, simulation in simulations.items():
        block = blocks["semantic_concentrator" if name == "sec" else "focus_engine"]
        runs[name] = flow.measure(simulation, block, out / "sta" / name,
                                  period_ns=options.period_ns, jobs=options.jobs)
    paths = report.write(out, label, config, options, runs, time.perf_counter() - started)
    print(paths["md"].read_text().split("## Power per block")[0])
    print(f"report: {paths['md']}")
    return runs


def main(argv=None):
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except (ValueError, ToolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
