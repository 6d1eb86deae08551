"""Command line of the system model: ``python -m perf [run|calibrate|sparsity|cases] ...``.

``run`` (the default) evaluates cases in dense and Focus mode and writes the summary,
per-layer CSV/JSON and plots under ``build/model/<config>/<cycles>-<energy>-<sparsity>/``.
``calibrate`` measures a calibration table with our benchmarks (or builds it from the
figures in docs/ with ``--from-docs``). ``sparsity`` computes (and caches) the synthetic
sparsity of cases and prints a summary. ``cases`` lists the built-in cases.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from golden.__main__ import ProgressBar

from . import workload as workload_module
from .calibration import CalibrationError, default_table_path, load_table
from .cycles import ArrayShape
from .energy import OperationEnergy, PublishedEnergy, default_energy_table, load_published
from .evaluate import Evaluator
from .sparsity import density_profile, mac_counts
from .synthetic import synthetic_profile
from .traces import load_any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD = PROJECT_ROOT / "build" / "model"
COMMANDS = ("run", "calibrate", "sparsity", "cases", "gather")


def _config(args):
    """The FocusConfig and its name (``--config`` plus ``--set`` overrides)."""
    from gen.config import get_config  # configuration and hash only
    config = get_config(args.config)
    name = args.config
    if args.set:
        config = config.with_overrides(args.set)
        name = f"{args.config}+{','.join(args.set)}"
    return config, name


def _ratios(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _layers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="paper", help="named configuration (default paper)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a configuration parameter (as python -m gen --set)")


def _add_workload(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workload")
    group.add_argument("--cases", nargs="+", metavar="CASE",
                       help="built-in cases (default all nine; see `python -m perf cases`)")
    group.add_argument("--workload", metavar="FILE", help="cases from a TOML or JSON file")
    custom = parser.add_argument_group("one custom case (instead of --cases)")
    custom.add_argument("--name", default="custom")
    custom.add_argument("--frames", type=int)
    custom.add_argument("--rows", type=int)
    custom.add_argument("--cols", type=int)
    custom.add_argument("--frame-stride", type=int)
    custom.add_argument("--row-stride", type=int)
    custom.add_argument("--sec-layers", type=_layers, default=())
    custom.add_argument("--sec-ratios", type=_ratios, default=())
    custom.add_argument("--threshold", type=float, default=0.9)
    custom.add_argument("--video-seed", type=int, default=0)
    for field in ("blocks", "hidden", "heads", "kv-dim", "ffn"):
        custom.add_argument(f"--{field}", type=int, help=f"model shape: {field} (default Qwen2-7B)")


def _cases(args) -> list:
    if args.frames is not None or args.rows is not None or args.cols is not None:
        if None in (args.frames, args.rows, args.cols):
            raise ValueError("a custom case needs --frames, --rows and --cols")
        shape = {field: getattr(args, field.replace("-", "_"))
                 for field in ("blocks", "hidden", "heads", "kv_dim", "ffn")}
        model = workload_module.ModelShape(
            "custom", **{k: v if v is not None else getattr(workload_module.QWEN2_7B, k)
                         for k, v in shape.items()})
        return [workload_module.custom_case(
            args.name, frames=args.frames, rows=args.rows, cols=args.cols,
            frame_stride=args.frame_stride, row_stride=args.row_stride, model=model,
            video_seed=args.video_seed, sec_layers=args.sec_layers, sec_ratios=args.sec_ratios,
            threshold=args.threshold)]
    known = workload_module.load_cases(args.workload) if args.workload else workload_module.CASES
    return workload_module.select_cases(args.cases, known)


# --------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------


def _profile(args, case, config, bar):
    if args.trace:
        return load_any(args.trace, case, vector_size=config.rows, m_tile=config.m_tile)
    if args.density is not None:
        return density_profile(case, args.density, vector_size=config.rows, m_tile=config.m_tile)
    if args.published_density:
        reference = load_published()["cases"].get(case.name)
        if reference is None:
            raise ValueError(f"case {case.name} has no published op density")
        return density_profile(case, reference["op_density"], vector_size=config.rows,
                               m_tile=config.m_tile)
    return synthetic_profile(case, vector_size=config.rows, m_tile=config.m_tile,
                             cache_dir=args.cache, jobs=args.jobs, progress=bar)


def _sparsity_label(args) -> str:
    if args.trace:
        return "trace"
    if args.density is not None:
        return f"density{args.density:g}"
    return "published-density" if args.published_density else "synthetic"


def run(args) -> int:
    from . import plots, report
    started = time.perf_counter()
    config, config_name = _config(args)
    cases = _cases(args)
    if args.trace and len(cases) != 1:
        raise ValueError("--trace needs exactly one case (--cases NAME or a custom case)")
    shape = ArrayShape.from_config(config)
    calibration = None
    if args.cycles == "rtl":
        path = args.calibration or default_table_path(args.config, BUILD)
        calibration = load_table(path, config, config_name)
    energy = PublishedEnergy() if args.energy == "published" else OperationEnergy(
        args.energy_table or default_energy_table(None if args.set else args.config), config)
    evaluator = Evaluator(shape, cycles=args.cycles, calibration=calibration, energy=energy)
    results = []
    sparsity_seconds = evaluate_seconds = 0.0
    for case in cases:
        with ProgressBar(f"{case.name}: sparsity", enabled=not args.no_progress) as bar:
            mark = time.perf_counter()
            profile = _profile(args, case, config, bar)
            sparsity_seconds += time.perf_counter() - mark
        mark = time.perf_counter()
        results.append(evaluator.evaluate(case, profile))
        evaluate_seconds += time.perf_counter() - mark
    published = load_published()
    rows = report.summary_rows(results, published)
    header = {
        "config": config_name, "config_hash": config.hash, "cycles": args.cycles,
        "energy": energy.description,
        "placeholder": energy.placeholder,
        "calibration": (f"{calibration.path} (command: {calibration.command})"
                        if calibration else None),
        "sparsity": (results[0].sparsity_source if len(results) == 1 else
                     f"{_sparsity_label(args)} (per case in summary.json)"),
    }
    out = Path(args.out) if args.out else (BUILD / config_name /
                                           f"{args.cycles}-{energy.name}-{_sparsity_label(args)}")
    print(report.format_summary(rows, header))
    written = report.write_outputs(results, rows, header, out)
    if not args.no_plots:
        if plots.available():
            label = energy.name + (" PLACEHOLDER" if energy.placeholder else
                                   " measured" if energy.measured else "")
            title = (f"{config_name}, cycles {args.cycles}, energy {label}, "
                     f"sparsity {_sparsity_label(args)}")
            written.append(plots.plot_summary(rows, title, out / "speedup.png"))
            written += [plots.plot_layers(result, title, out) for result in results]
        else:
            print("matplotlib is not installed: no plots (make setup installs it)")
    total = time.perf_counter() - started
    print(f"\nsparsity {sparsity_seconds:.1f} s, evaluation {evaluate_seconds:.1f} s, "
          f"total {total:.1f} s; written to {out}/ ({', '.join(p.name for p in written[:4])}"
          f"{', ...' if len(written) > 4 else ''})")
    return 0


# --------------------------------------------------------------------------------------
# calibrate, sparsity, cases
# --------------------------------------------------------------------------------------


def calibrate(args) -> int:
    from . import calibrate as calibrate_module
    config, config_name = _config(args)
    if args.from_docs:
        table = calibrate_module.table_from_docs(config, config_name)
        target = args.out or calibrate_module.committed_path(config_name)
    else:
        table = calibrate_module.run_benchmarks(config, config_name)
        target = args.out or BUILD / "calibration" / f"{config_name}.json"
    path = calibrate_module.write_table(table, target)
    print(f"calibration table for {config_name} (hash {config.hash}) written to {path}")
    for key, value in table["model"].items():
        print(f"  {key:<28}{value}")
    worst = max((abs(row["error"]) for row in table["validation"]), default=0.0)
    print(f"engine runs predicted within {100 * worst:.2f} % "
          f"({sum(r['role'] == 'held-out' for r in table['validation'])} held out)")
    return 0


def sparsity(args) -> int:
    config, _ = _config(args)
    for case in _cases(args):
        with ProgressBar(f"{case.name}: sparsity", enabled=not args.no_progress) as bar:
            mark = time.perf_counter()
            profile = synthetic_profile(case, vector_size=config.rows, m_tile=config.m_tile,
                                        cache_dir=args.cache, jobs=args.jobs, progress=bar)
            seconds = time.perf_counter() - mark
        focus, dense = mac_counts(case, profile)
        kept = [f"{e.block}:{e.k}" for e in profile.sec]
        print(f"{case.name}: op density {focus / dense:.4f}, SEC {' '.join(kept) or 'none'}, "
              f"{seconds:.1f} s")
        for name, items in profile.inputs.items():
            print(f"  {name:<10}" + " ".join(f"{item.sparsity:.2f}" for item in items))
    return 0


def cases(args) -> int:
    for case in workload_module.CASES.values():
        g = case.geometry
        print(f"{case.name:<26} S = {case.sequence:>6} ({g.frames} frames x {g.frame_stride}), "
              f"FS {g.frame_stride}, HS {g.row_stride}, theta {case.threshold}, "
              f"SEC {list(case.sec_layers)} x {list(case.sec_ratios)}")
    return 0


def gather(args) -> int:
    """Cycles per key the linear GEMMs give the SIC gather, and its stalls per design."""
    from gen.blocks import block_component
    from .gather_budget import budget_table
    config, name = _config(args)
    designs = []
    for text in args.designs.split(","):
        width, lanes = (int(v) for v in text.split("/"))
        unit = block_component(config.replace(matcher_width=width, collector_lanes=lanes),
                               "similarity_gather")
        interval = max(unit.cycles_per_key, config.rows // lanes)
        designs.append((f"w{width}/l{lanes} (G {interval})", interval, unit.flush_cycles))
    from gen.formats import number_format
    add_latency = number_format(config.dtype, mul_stages=config.mul_stages,
                                add_stages=config.add_stages).add_latency
    # docs/array.md: a fold shorter than reload_gap + rows - 1 waits for the weight reload
    reload_gap = config.cols + (config.rows - 1) * (add_latency - 1)
    min_period = args.min_period or (reload_gap + config.rows - 1)
    print(f"# SIC gather budget: {name}, matchers {config.matchers}, scatter lanes "
          f"{config.scatter_lanes}, array min fold period {min_period}")
    for case in _cases(args):
        profile = _profile(args, case, config, None)
        rows = budget_table(case, profile, rows=config.rows, min_period=min_period,
                            lanes=config.scatter_lanes, designs=designs,
                            in_features=set(args.k) if args.k else None)
        print(f"\n## {case.name} ({_sparsity_label(args)} sparsity, {profile.source})\n")
        head = " | ".join(f"{label} stall array / engine" for label, _, _ in designs)
        print(f"| GEMM | K | tiles | cycles/key min (p5), array | engine | {head} |")
        print("|---|---:|---:|---:|---:|" + "---:|" * len(designs))
        for row in rows:
            cells = " | ".join(f"{100 * row['stall'][label]['array']:.2f} % / "
                               f"{100 * row['stall'][label]['engine']:.2f} %"
                               for label, _, _ in designs)
            array, engine = row["per_key"]["array"], row["per_key"]["engine"]
            print(f"| {row['gemm']} | {row['K']} | {row['tiles']} | {array[0]:.1f} "
                  f"({array[1]:.1f}) | {engine[0]:.1f} ({engine[1]:.1f}) | {cells} |")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run_parser = commands.add_parser("run", help="evaluate cases (the default command)")
    _add_common(run_parser)
    _add_workload(run_parser)
    model = run_parser.add_argument_group("models")
    model.add_argument("--cycles", choices=("rtl", "published"), default="rtl",
                       help="cycle model: our RTL's calibrated per-tile functions (default) or "
                            "the published formula")
    model.add_argument("--calibration", metavar="FILE",
                       help="calibration table (default build/model/calibration/<config>.json, "
                            "else perf/data/calibration/<config>.json)")
    model.add_argument("--energy", choices=("ours", "published"), default="ours",
                       help="energy model: operations x energies (default) or the published "
                            "power x time")
    model.add_argument("--energy-table", metavar="FILE",
                       help="per-operation energy table (default perf/data/energy/<config>.json, "
                            "measured by make power, else the PLACEHOLDER table)")
    source = run_parser.add_argument_group("sparsity (default: tensor-level model on synthetic "
                                           "activations, cached)")
    exclusive = source.add_mutually_exclusive_group()
    exclusive.add_argument("--trace", metavar="FILE", help="a .npz trace (or the authors' .pth)")
    exclusive.add_argument("--density", type=float, help="a given op density for every case")
    exclusive.add_argument("--published-density", action="store_true",
                           help="each case at its published op density")
    _add_runtime(run_parser)
    run_parser.add_argument("--out", metavar="DIR", help="output directory")
    run_parser.add_argument("--no-plots", action="store_true")
    run_parser.set_defaults(handler=run)

    calibrate_parser = commands.add_parser("calibrate", help="measure a calibration table")
    _add_common(calibrate_parser)
    calibrate_parser.add_argument("--from-docs", action="store_true",
                                  help="build the table from the figures recorded in docs/")
    calibrate_parser.add_argument("--out", metavar="FILE")
    calibrate_parser.set_defaults(handler=calibrate)

    sparsity_parser = commands.add_parser("sparsity", help="compute and cache synthetic sparsity")
    _add_common(sparsity_parser)
    _add_workload(sparsity_parser)
    _add_runtime(sparsity_parser)
    sparsity_parser.set_defaults(handler=sparsity)

    gather_parser = commands.add_parser(
        "gather", help="cycles per key the GEMMs give the SIC gather; stalls per design")
    _add_common(gather_parser)
    _add_workload(gather_parser)
    gather_parser.add_argument("--designs", default="32/32,16/2,16/4,8/2,8/4,4/8",
                               help="matcher_width/collector_lanes pairs, comma-separated")
    gather_parser.add_argument("--k", type=int, action="append",
                               help="only GEMMs with this K (repeatable; default all)")
    gather_parser.add_argument("--min-period", type=float,
                               help="the array's shortest fold period (default reload gap + rows - 1, docs/array.md)")
    gather_source = gather_parser.add_mutually_exclusive_group()
    gather_source.add_argument("--density", type=float, help="a given op density")
    gather_source.add_argument("--published-density", action="store_true")
    gather_parser.set_defaults(trace=None)
    _add_runtime(gather_parser)
    gather_parser.set_defaults(handler=gather)

    cases_parser = commands.add_parser("cases", help="list the built-in cases")
    cases_parser.set_defaults(handler=cases)
    return parser


def _add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=1, help="sparsity worker processes (default 1)")
    parser.add_argument("--cache", default=str(BUILD / "cache"), help="sparsity cache directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(argv=None) -> int:
    """Entry point of ``python -m perf``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, CalibrationError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
