"""``python -m dse SWEEP``: run a design-space sweep on Ray and write its results table.

SWEEP is a sweep file (TOML, see :mod:`dse.sweep`) or the name of a built-in one
(``dse/sweeps/<name>.toml``). Results go to ``build/dse/<sweep name>/`` (``--out``):
``results.csv``, ``results.json``, ``plots/*.png`` and each task's folder under ``tasks/``.
Finished task results are cached in ``build/dse/cache/`` (``--cache``): a rerun or an
extended sweep runs only what is not there. By default a local Ray instance with the
machine's CPUs runs the tasks; ``--address`` joins an existing Ray cluster.
"""

import argparse
import datetime
import fcntl
import subprocess
import sys
import time
from pathlib import Path

from .results import build_rows, write_plots, write_table
from .runner import DEFAULT_CACHE, plan_tasks, progress_printer, run_sweep
from .steps import PROJECT_ROOT, STEPS
from .sweep import SweepError, builtin_sweeps, load_sweep


def parser():
    parser = argparse.ArgumentParser(prog="python -m dse", description=__doc__.split("\n")[0])
    parser.add_argument("sweep", nargs="?", help="sweep file or built-in sweep name "
                        f"({', '.join(builtin_sweeps())})")
    parser.add_argument("--list", action="store_true", help="list built-in sweeps and steps")
    parser.add_argument("--out", type=Path, help="results folder (default build/dse/<name>)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"task result cache (default {DEFAULT_CACHE.relative_to(PROJECT_ROOT)})")
    parser.add_argument("--address", help="join this Ray cluster (e.g. 10.0.0.5:6379 or auto) "
                        "instead of starting a local instance")
    parser.add_argument("--num-cpus", type=int,
                        help="CPUs of the local Ray instance (default: the machine's)")
    parser.add_argument("--steps", metavar="A,B", help="run only these of the sweep's steps")
    parser.add_argument("--max-retries", type=int, default=2,
                        help="retries of a task whose worker died (default 2)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="measure again the tasks whose cached result is a failure")
    parser.add_argument("--recompute-stale", action="store_true",
                        help="measure again cached results whose step's sources changed since")
    parser.add_argument("--private-module-cache", action="store_true",
                        help="give every task its own generator module cache")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the points and tasks (cached or not) and stop")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _list():
    print("built-in sweeps: " + ", ".join(builtin_sweeps()))
    for name, step in STEPS.items():
        doc = (step.function.__doc__ or "").strip().splitlines()[0]
        options = ", ".join(f"{k}={v!r}" for k, v in step.options.items())
        print(f"  {name:9s} {doc}" + (f"  [options: {options}; timeout]" if options
                                       else "  [options: timeout]"))
    return 0


def _dry_run(sweep, steps, cache):
    from .runner import ResultCache
    results = ResultCache(cache)
    tasks = plan_tasks(sweep, steps)

    def state(task):
        known = results.load(task.key)
        if known is None:
            return "todo"
        return "cached" + ("(stale)" if known.get("sources") != task.sources else "")

    for index, point in enumerate(sweep.points, 1):
        if point.config is None:
            print(f"{index:3d} {point.label}: INVALID: {point.error}")
            continue
        states = [f"{t.step}:{state(t)}" for t in tasks if t.point is point]
        print(f"{index:3d} {point.config.hash} {point.label} [{'; '.join(point.groups)}] "
              + " ".join(states))
    return 0


def _git_describe():
    """``git describe --always --dirty`` of the project (the code the sweep measured)."""
    try:
        completed = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=PROJECT_ROOT,
                                   capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() or None


def main(argv=None):
    args = parser().parse_args(argv)
    if args.list:
        return _list()
    if not args.sweep:
        parser().error("give a sweep file or a built-in sweep name (--list shows them)")
    try:
        sweep = load_sweep(args.sweep)
        steps = None
        if args.steps:
            steps = [s.strip() for s in args.steps.split(",") if s.strip()]
            unknown = [s for s in steps if s not in sweep.steps]
            if unknown:
                raise SweepError(f"--steps: {', '.join(unknown)} not among the sweep's steps "
                                 f"({', '.join(sweep.steps)})")
        if args.num_cpus is not None and args.num_cpus < 1:
            raise SweepError(f"--num-cpus must be at least 1, got {args.num_cpus}")
        if args.num_cpus is not None and args.address:
            raise SweepError("--num-cpus sizes a local Ray instance; a cluster (--address) "
                             "has its own")
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        return _dry_run(sweep, steps, args.cache)
    out = args.out or PROJECT_ROOT / "build" / "dse" / sweep.name
    out.mkdir(parents=True, exist_ok=True)
    lock = open(out / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"error: another sweep is writing {out}", file=sys.stderr)
        return 2
    invalid = sum(point.config is None for point in sweep.points)
    print(f"sweep {sweep.name}: {len(sweep.points)} points ({invalid} rejected by the "
          f"generator), steps {', '.join(steps or sweep.steps)}; results in {out}")
    started = datetime.datetime.now().astimezone()
    results, stats = run_sweep(
        sweep, out=out, cache_dir=args.cache, steps=steps, address=args.address,
        num_cpus=args.num_cpus, max_retries=args.max_retries, retry_failed=args.retry_failed,
        recompute_stale=args.recompute_stale,
        private_module_cache=args.private_module_cache,
        progress=None if args.no_progress else progress_printer())
    rows = build_rows(sweep, results, steps)
    computed_points = len({key.split("/")[0] for key, result in results.items()
                           if not result.get("cached")})
    header = {"sweep": {"name": sweep.name, "file": str(sweep.path), "base": sweep.base,
                        "set": list(sweep.base_set), "steps": list(steps or sweep.steps),
                        "options": sweep.options, "workload": sweep.workload,
                        "description": sweep.description},
              "run": {"started": started.isoformat(timespec="seconds"),
                      "source": _git_describe(),
                      "wall_seconds": round(stats.seconds, 1), "tasks": stats.tasks,
                      "cached": stats.cached, "stale": stats.stale,
                      "computed": stats.computed,
                      "failed_tasks": stats.failed, "retried_tasks": stats.retried,
                      "points_computed": computed_points,
                      "points_per_hour": round(3600 * computed_points / stats.seconds, 2)
                      if stats.computed and stats.seconds else None,
                      "interrupted": stats.interrupted, "ray_address": stats.address,
                      "ray_cpus": stats.num_cpus, "ray_nodes": stats.nodes}}
    paths = write_table(rows, out, header)
    if not args.no_plots:
        paths += write_plots(rows, out, f"sweep {sweep.name}")
    ok = sum(row["status"] == "ok" for row in rows)
    print(f"{ok}/{len(rows)} points ok; {stats.computed} tasks run ({stats.failed} failed, "
          f"{stats.retried} retried after a lost worker), {stats.cached} from the cache; "
          f"{stats.seconds:.0f} s")
    if stats.stale:
        print(f"{stats.stale} results were measured with other sources of their step than "
              "the current ones at the sweep's start (column <step>.stale); "
              "--recompute-stale measures them again")
    for row in rows:
        if row["status"] != "ok":
            print(f"  point {row['point']} ({row['overrides'] or 'base'}): {row['status']}: "
                  f"{row.get('error', '')}")
    print("written: " + ", ".join(str(path.relative_to(out)) for path in paths))
    if stats.interrupted:
        print("interrupted: run the same command again to resume from the cache")
        return 130
    return 0
