"""Build calibration tables: run our benchmarks (or take the figures recorded in docs/), fit
the per-tile functions, check the fit on held-out runs, and write the table.

Fitting (:func:`fit_engine`): for each engine run the model of :mod:`perf.engine_model` is
evaluated without overheads (``base``); the residual ``measured - base`` of the runs marked
``fit`` is ``tile_overhead x output tiles + edge``. Dense runs give ``tile_overhead_dense`` and
``edge_dense``; concentrated runs whose tiles are scatter-bound (compute > gather) give
``tile_overhead_focus`` (least squares over two or more tile counts, or a recorded value),
and those with the configuration's matcher count give ``edge_gathered``. Runs marked
``held-out`` (the ``all similar`` workload, other slice counts) are then predicted and the
relative errors stored in the table's ``validation`` list.

``python -m perf calibrate --config NAME`` runs, as subprocesses, ``sim_cocotb.bench_array``,
``bench_sic``, ``bench_sec`` and ``bench_engine`` for that configuration (each writes JSON under
``build/bench/``) and writes ``build/model/calibration/NAME.json``. ``--from-docs`` builds the
committed tables (``perf/data/calibration/{paper,small}.json``) from :mod:`perf.recorded`.
"""

from __future__ import annotations

import datetime
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from .calibration import COMMITTED_DIR, FORMAT, MODEL_KEYS
from .cycles import ArrayShape
from .engine_model import EngineModel
from .recorded import RECORDED

__all__ = ["predict_run", "fit_engine", "table_from_docs", "run_benchmarks", "write_table"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _shape(config) -> ArrayShape:
    return ArrayShape.from_config(config)


def gather_design(matchers: int, matcher_width=None, collector_lanes=None,
                  vector_size=None) -> str:
    """Key of a gather design in a table's gather figures: the matcher count (``"1"``) for
    a full-width matcher and collector, else ``"1-w16-l2"``."""
    full = (matcher_width in (None, vector_size)) and (collector_lanes in (None, vector_size))
    return str(matchers) if full else f"{matchers}-w{matcher_width}-l{collector_lanes}"


def config_gather_design(config, matchers=None) -> str:
    """:func:`gather_design` of ``config``'s gather (with ``matchers`` instead of its own)."""
    return gather_design(config.matchers if matchers is None else matchers,
                         config.matcher_width, config.collector_lanes, config.rows)


def _run_values(values: dict, run: dict, gather: dict) -> dict:
    """Model values with the gather figures of the design the run was measured with (its
    ``gather`` key, or its matcher count for a full-width gather)."""
    figures = gather[run.get("gather", str(run["matchers"]))]
    return {**values, "gather_key_interval": figures["key_interval"],
            "gather_flush": figures["flush"]}


def _folds(run: dict) -> np.ndarray:
    """Fold lengths of the run's one m-tile: per slice when recorded, else spread evenly."""
    if run.get("unique_per_slice"):
        return np.asarray(run["unique_per_slice"], dtype=np.float64)[None, :]
    per_tile = run["vectors"] / run["tiles"]
    return np.full((1, run["slices"]), per_tile / run["slices"])


def predict_run(values: dict, run: dict, shape: ArrayShape, gather: dict, *,
                overhead: bool = True, edge: bool = True) -> float:
    """Cycles the model predicts for one engine bench run.

    The bench streams ``tiles`` output tiles (N-slices) of one token tile of ``tokens``
    tokens with ``slices`` K-slices; concentrated runs are gathered.
    """
    run_values = _run_values(values, run, gather)
    if not overhead:
        run_values.update(tile_overhead_dense=0, tile_overhead_focus=0)
    focus = run["mode"] == "focus"
    model = EngineModel(run_values, shape)
    return model.run(np.array([run["tokens"]]), _folds(run), run["tiles"], focus=focus,
                     gathered=focus, edge=edge).total


def _scatter_bound(values: dict, run: dict, shape: ArrayShape, gather: dict) -> bool:
    run_values = _run_values(values, run, gather)
    model = EngineModel(run_values, shape)
    period = np.where(_folds(run) > 0, np.maximum(_folds(run), model.min_period), 0)
    compute = np.maximum(period, np.ceil(run["tokens"] / model.lanes)).sum()
    return compute > run_values["gather_key_interval"] * run["tokens"] + run_values["gather_flush"]


def _line(points, fixed_slope=None) -> tuple[float, float]:
    """Least-squares (slope, intercept) of (x, y) points; ``fixed_slope`` pins the slope."""
    xs = np.array([x for x, _ in points], dtype=float)
    ys = np.array([y for _, y in points], dtype=float)
    if fixed_slope is not None:
        return float(fixed_slope), float(np.mean(ys - fixed_slope * xs))
    if len(set(xs)) < 2:
        raise ValueError("fitting a per-tile overhead needs runs with two different tile counts "
                         "(or a recorded overhead)")
    slope, intercept = np.polyfit(xs, ys, 1)
    return float(slope), float(intercept)


def fit_engine(values: dict, runs: list[dict], shape: ArrayShape, gather: dict, matchers: int,
               fixed: dict) -> tuple[dict, dict]:
    """Fit tile overheads and edges (see the module docstring).

    Returns
    -------
    (values, provenance)
        The four fitted model values and how each was obtained.
    """
    base = {**values, "tile_overhead_dense": 0, "tile_overhead_focus": 0, "edge_dense": 0,
            "edge_gathered": 0}
    fitted, provenance = {}, {}
    dense = [(r["tiles"], r["cycles"] - predict_run(base, r, shape, gather, edge=False))
             for r in runs if r["mode"] == "dense" and r["role"] == "fit"]
    if not dense:
        raise ValueError("no dense engine run marked 'fit'")
    slope, edge = _line(dense, fixed.get("dense", (None,))[0])
    fitted["tile_overhead_dense"], fitted["edge_dense"] = round(slope, 2), round(edge, 2)
    provenance["tile_overhead_dense"] = fixed["dense"][1] if "dense" in fixed else \
        f"least squares over dense runs {dense} (tiles, measured - folds)"
    provenance["edge_dense"] = f"fitted: dense runs (tiles, measured - model without edge) = {dense}"
    bound = [r for r in runs if r["mode"] == "focus" and r["role"] == "fit"
             and _scatter_bound(base, r, shape, gather)]
    points = [(r["tiles"], r["cycles"] - predict_run(base, r, shape, gather, edge=False))
              for r in bound]
    if "focus" in fixed:
        overhead = fixed["focus"][0]
        provenance["tile_overhead_focus"] = fixed["focus"][1]
    else:
        overhead, _ = _line(points)
        provenance["tile_overhead_focus"] = (f"least squares over scatter-bound concentrated "
                                             f"runs (tiles, measured - model) = {points}")
    fitted["tile_overhead_focus"] = round(overhead, 2)
    with_overhead = {**base, "tile_overhead_focus": overhead, "edge_dense": fitted["edge_dense"],
                     "edge_gathered": fitted["edge_dense"]}
    edges = [r["cycles"] - predict_run(with_overhead, r, shape, gather, edge=False)
             for r in runs if r["mode"] == "focus" and r["role"] == "fit"
             and r["matchers"] == matchers]
    source_runs = [r for r in runs if r["mode"] == "focus" and r["role"] == "fit"]
    if not edges:  # no run with the configuration's matchers: take the fitted runs
        edges = [r["cycles"] - predict_run(with_overhead, r, shape, gather, edge=False)
                 for r in source_runs]
    fitted["edge_gathered"] = round(float(np.mean(edges)), 2)
    provenance["edge_gathered"] = (f"fitted: mean of measured - model without edge over the "
                                   f"concentrated 'fit' runs = {[round(e, 1) for e in edges]}")
    return fitted, provenance


def _validation(values: dict, runs: list[dict], shape: ArrayShape, gather: dict) -> list[dict]:
    rows = []
    for run in runs:
        predicted = predict_run(values, run, shape, gather)
        rows.append({"workload": run["workload"], "mode": run["mode"], "matchers": run["matchers"],
                     "slices": run["slices"], "tiles": run["tiles"], "role": run["role"],
                     "measured": run["cycles"], "predicted": round(predicted, 1),
                     "error": round(predicted / run["cycles"] - 1, 5)})
    return rows


def _sec_values(measurements: list[dict]) -> dict:
    vectors = sum(m["vectors"] for m in measurements)
    cycles = sum(m["accept_cycles"] for m in measurements)
    measured = sum(m["to_last_code"] for m in measurements)
    formula = sum(m["formula"] for m in measurements)
    return {"analyzer_vectors_per_cycle": round(vectors / cycles, 6),
            "sorter_over_formula": round(measured / formula, 6)}


def _assemble(config, config_name: str, *, command: str, source: str, array: dict, gather: dict,
              sec: dict, engine_runs: list[dict], engine_config: dict, fixed: dict,
              notes: list[str]) -> dict:
    shape = _shape(config)
    matchers = config_gather_design(config)
    if matchers not in gather:
        raise ValueError(f"no gather figures for the configuration's gather ({matchers})")
    values = {**array["values"], "scatter_lanes": config.scatter_lanes,
              "gather_matchers": config.matchers,
              "gather_key_interval": gather[matchers]["key_interval"],
              "gather_flush": gather[matchers]["flush"], **_sec_values(sec["measurements"])}
    provenance = dict(array["provenance"])
    provenance.update({
        "scatter_lanes": "configuration (slice cost ceil(tokens / lanes): docs/engine.md, the "
                         "scatter accumulator was busy for exactly that term)",
        "gather_matchers": "configuration",
        "gather_key_interval": gather[matchers]["source"],
        "gather_flush": gather[matchers]["source"],
        "analyzer_vectors_per_cycle": sec["source"],
        "sorter_over_formula": sec["source"],
    })
    fitted, fit_provenance = fit_engine(values, engine_runs, shape, gather, config.matchers, fixed)
    values.update(fitted)
    provenance.update(fit_provenance)
    missing = set(MODEL_KEYS) - set(values)
    if missing:
        raise ValueError(f"calibration incomplete: {sorted(missing)}")
    return {
        "format": FORMAT,
        "config": config_name,
        "config_hash": config.hash,
        "config_params": config.to_dict(),
        "command": command,
        "source": source,
        "created": datetime.date.today().isoformat(),
        "model": {key: values[key] for key in MODEL_KEYS},
        "provenance": provenance,
        "measurements": {"array": array.get("measurements", []), "gather": gather,
                         "sec": sec["measurements"], "engine_runs": engine_runs,
                         "engine_config": engine_config},
        "validation": _validation(values, engine_runs, shape, gather),
        "notes": notes,
    }


def table_from_docs(config, config_name: str) -> dict:
    """The calibration table of ``config_name`` from the figures recorded in docs/."""
    if config_name not in RECORDED:
        raise ValueError(f"no figures recorded in docs/ for configuration {config_name!r}; "
                         f"recorded: {', '.join(RECORDED)} (run `make calibrate` instead)")
    recorded = RECORDED[config_name]
    fixed = {}
    if recorded["fixed_overhead_focus"]:
        fixed["focus"] = recorded["fixed_overhead_focus"]
    if recorded["fixed_overhead_dense"]:
        fixed["dense"] = recorded["fixed_overhead_dense"]
    return _assemble(
        config, config_name,
        command=f"python -m perf calibrate --from-docs --config {config_name}",
        source="figures transcribed from docs/*.md (perf/recorded.py); every model value "
               "names its document, table and row in 'provenance', every raw figure in "
               "'measurements'",
        array=recorded["array"], gather=recorded["gather"], sec=recorded["sec"],
        engine_runs=recorded["engine_runs"], engine_config=recorded["engine_config"],
        fixed=fixed, notes=recorded["notes"])


# --------------------------------------------------------------------------------------
# Running the benchmarks
# --------------------------------------------------------------------------------------


def _run(arguments: list[str], log) -> None:
    command = [sys.executable, "-m", *arguments]
    print("$ " + shlex.join(command[1:]), file=log, flush=True)
    completed = subprocess.run(command, cwd=PROJECT_ROOT)
    if completed.returncode:
        raise RuntimeError(f"benchmark failed (exit {completed.returncode}): {shlex.join(command)}")


def _engine_size(config) -> tuple[str, dict]:
    """The bench_engine size whose hardware is closest to ``config``."""
    from sim_cocotb.bench_engine import SIZES  # imported only when calibrating
    for size, spec in SIZES.items():
        if (spec["rows"], spec["cols"], spec["m_tile"]) == (config.rows, config.cols, config.m_tile):
            return size, spec
    size = min(SIZES, key=lambda name: abs(SIZES[name]["rows"] - config.rows))
    return size, SIZES[size]


def _sic_geometry(config) -> str:
    """The largest named geometry whose SIC window fits the layouter."""
    from golden.workloads import GEOMETRIES
    bf, bh, bw = config.window
    fitting = [g for g in GEOMETRIES.values()
               if (bf - 1) * g.frame_stride + (bh - 1) * g.row_stride + bw <= config.window_vectors
               and g.n_tokens > 2 * config.m_tile]
    if not fitting:
        raise ValueError("no named geometry fits the layouter and gives two tiles")
    return max(fitting, key=lambda g: g.n_tokens).name


def run_benchmarks(config, config_name: str, *, log=sys.stdout) -> dict:
    """Run the four benchmarks for ``config`` and build its table (see the module docstring)."""
    from sim_cocotb.bench_sic import result_name  # imported only when calibrating
    bench = PROJECT_ROOT / "build" / "bench"
    rows, cols, dtype = config.rows, config.cols, config.dtype
    commands = []
    lengths = sorted({rows, 4 * (rows + cols), config.m_tile})
    commands.append(["sim_cocotb.bench_array", "--rows", str(rows), "--cols", str(cols),
                     "--lengths", ",".join(map(str, lengths)), "--dtype", dtype])
    matchers = sorted({config.matchers, config.candidates})
    geometry = _sic_geometry(config)
    fold = []
    for option, value in (("--matcher-width", config.matcher_width),
                          ("--collector-lanes", config.collector_lanes)):
        if value is not None:
            fold += [option, str(value)]
    commands.append(["sim_cocotb.bench_sic", "--dtype", dtype, "--rows", str(rows), "--m-tile",
                     str(config.m_tile), "--window-vectors", str(config.window_vectors),
                     "--matchers", ",".join(map(str, matchers)), "--geometry", geometry,
                     "--keep", "1.0", *fold])
    n = config.max_tokens
    cases = [(n, max(1, n // 10)), (n, max(1, 4 * n // 10)), (max(1, n // 2), max(1, n // 8))]
    commands.append(["sim_cocotb.bench_sec", "--dtype", dtype, "--sort-width",
                     str(config.sort_width), "--max-tokens", str(n), "--offset-bits",
                     str(config.offset_bits), "--cases", ",".join(f"{m}:{k}" for m, k in cases)])
    size, spec = _engine_size(config)
    tile_counts = (spec["tiles"] // 2, spec["tiles"])
    for tiles in tile_counts:
        commands.append(["sim_cocotb.bench_engine", "--size", size, "--dtype", dtype,
                         "--matchers", ",".join(map(str, matchers)), "--tiles", str(tiles)])
    for command in commands:
        _run(command, log)

    array_data = json.loads((bench / f"array-{dtype}-{rows}x{cols}.json").read_text())
    results = array_data["results"]
    shortest = min(results, key=lambda r: r["p"])
    period = max(shortest["fold_period"]) if shortest["fold_period"] else shortest["p"]
    latencies = {r["single_fold_cycles"] - rows - r["p"] for r in results}
    array = {"values": {"array_min_period": period, "array_latency": max(latencies),
                        "array_first_load": rows},
             "measurements": results,
             "provenance": {"array_min_period": f"bench_array: steady fold period at p = "
                                                f"{shortest['p']}" + ("" if period > shortest["p"]
                                                else " (not reload-limited: an upper bound)"),
                            "array_latency": "bench_array: one fold cycles - rows - p",
                            "array_first_load": "rows beats per weight tile"}}
    gather = {}
    for count in matchers:
        stem = result_name(dtype, rows, count, config.matcher_width, config.collector_lanes)
        data = json.loads((bench / f"{stem}.json").read_text())
        run = data[0]
        interval = run["key_interval_median"]
        tile_period = statistics.median(run["tile_periods"])
        gather[config_gather_design(config, count)] = {"key_interval": interval,
                              "flush": tile_period - interval * run["tile_keys"][0],
                              "tile_period": tile_period, "keys": run["tile_keys"][0],
                              "source": f"bench_sic {dtype} V={rows} m_tile {config.m_tile}, "
                                        f"{count} matcher(s), geometry {geometry}"}
    sec_file = bench / (f"sec-{dtype}-a{config.sort_width}-n{n}-b{config.offset_bits}.json")
    sec_runs = json.loads(sec_file.read_text())
    sec = {"measurements": [{"M": r["M"], "k": r["k"], "vectors": r["vectors"],
                             "accept_cycles": r["accept_cycles"],
                             "to_last_code": r["to_last_code"],
                             "formula": r["sorter_alone_model"]} for r in sec_runs],
           "source": f"bench_sec ({sec_file.name})"}
    runs = []
    for tiles in tile_counts:
        for count in matchers:
            name = f"engine-{dtype}-{size}-g{count}-k{spec['slices']}-t{tiles}.json"
            for result in json.loads((bench / name).read_text()):
                workload = result["workload"]
                runs.append({"workload": workload,
                             "mode": "dense" if result["dense"] else "focus",
                             "dtype": dtype, "matchers": count,
                             "gather": config_gather_design(config, count),
                             "tokens": result["tokens"],
                             "slices": result["slices"], "tiles": result["tiles"],
                             "vectors": result["array_vectors"], "cycles": result["cycles"],
                             "unique_per_slice": result["unique_vectors"],
                             "role": "held-out" if workload == "all similar" else "fit",
                             "source": f"bench_engine ({name})"})
    return _assemble(
        config, config_name,
        command="python -m perf calibrate --config " + config_name + " ; ran: " +
                " ; ".join("python -m " + shlex.join(c) for c in commands),
        source="measured by the benchmarks above (JSON under build/bench/)",
        array=array, gather=gather, sec=sec, engine_runs=runs,
        engine_config={"size": size, **spec}, fixed={},
        notes=[f"engine measured on the bench_engine '{size}' hardware"])


def write_table(table: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1) + "\n")
    return path


def committed_path(config_name: str) -> Path:
    return COMMITTED_DIR / f"{config_name}.json"
