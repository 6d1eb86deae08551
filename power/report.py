"""Energy per operation and the report files of ``python -m power``.

Energy of a block over a run = its average power (recorded activity) x the run's clock
cycles (reset and drain included) x the clock period. Operations per run come from the
benchmarks' records:

* array: MACs = vectors through the array x rows x cols (= PE-cycles of streaming vectors);
* scatter accumulator: additions = tiles x K-slices x tokens x cols;
* output converter: elements = tiles x tokens x cols;
* gather: keys = tiles x tokens (concentrated runs);
* SEC: tokens (M) of the layer, and analyzer vectors + sorter passes x M for the system model.
"""

import csv
import json

from synth.png import stacked_bar_chart

__all__ = ["operations", "summary", "write"]

#: The machine-readable table the system model (``perf``) reads: logic energies only (SRAM
#: macros are blackboxes in synthesis; the model takes SRAM and DRAM energies elsewhere).
ENERGY_FORMAT = "focus-power-energy/1"


def operations(name, result, config):
    """``{operation: count}`` of one recorded run."""
    if name.startswith("engine"):
        tiles, slices, tokens = result["tiles"], result["slices"], result["tokens"]
        return {"mac": result["array_vectors"] * config.rows * config.cols,
                "scatter_add": tiles * slices * tokens * config.cols,
                "converted_element": tiles * tokens * config.cols,
                "gather_key": 0 if result["dense"] else tiles * tokens,
                "tile": tiles}
    return {"sec_token": result["M"],
            "sec_vector": result["vectors"] + result["passes"] * result["M"]}


#: (label, run, block, operation) of every energy-per-operation figure.
FIGURES = [
    ("array, pJ per MAC (dense)", "engine-dense", "array", "mac"),
    ("array, pJ per MAC (concentrated)", "engine-video", "array", "mac"),
    ("scatter accumulator, pJ per addition", "engine-video", "scatter", "scatter_add"),
    ("output converter, pJ per element", "engine-video", "converter", "converted_element"),
    ("gather, pJ per key", "engine-video", "gather", "gather_key"),
    ("SEC, pJ per token", "sec", "total", "sec_token"),
    ("SEC, pJ per analyzer vector or sorter cycle", "sec", "total", "sec_vector"),
    ("engine, pJ per output tile (dense)", "engine-dense", "total", "tile"),
    ("engine, pJ per output tile (concentrated)", "engine-video", "total", "tile"),
]


def summary(runs, config):
    """``{label: pJ per operation}`` (whole-run energy, and ``... dynamic`` without the
    block's idle power) and ``{run: {block: pJ}}`` of the runs."""
    energies = {name: {b.block: run.energy_pj(b) for b in run.blocks}
                for name, run in runs.items()}
    figures = {}
    for label, run, block, operation in FIGURES:
        if run not in runs:
            continue
        count = operations(run, runs[run].simulation.result, config)[operation]
        power = next((b for b in runs[run].blocks if b.block == block), None)
        if power is None or (block == "total" and runs[run].failed):
            figures[label] = figures[label + ", dynamic"] = None     # not measured
            continue
        figures[label] = energies[run][block] / count if count else None
        figures[label + ", dynamic"] = runs[run].dynamic_pj(power) / count if count else None
    return figures, energies


#: The system model's energy table: key -> (figure label, unit, derivation).
TABLE = {
    "pe_cycle": ("array, pJ per MAC (dense)",
                 "pJ per PE per cycle a vector streams through the array",
                 "array energy of the dense run / MACs"),
    "pe_cycle_concentrated": ("array, pJ per MAC (concentrated)", "pJ per PE-cycle",
                              "array energy of the concentrated run / MACs"),
    "scatter_add": ("scatter accumulator, pJ per addition",
                    "pJ per accumulator addition (one output element)",
                    "scatter energy of the concentrated run / additions"),
    "convert_element": ("output converter, pJ per element", "pJ per output element converted",
                        "converter energy of the concentrated run / elements"),
    "gather_key": ("gather, pJ per key", "pJ per key vector gathered",
                   "gather energy of the concentrated run / keys"),
    "sec_vector": ("SEC, pJ per analyzer vector or sorter cycle",
                   "pJ per SEC analyzer vector or sorter cycle",
                   "SEC energy of one layer / (vectors + passes x M)"),
}


def _energy_table(figures, period_ns, runs):
    pj = {}
    for key, (label, unit, derivation) in TABLE.items():
        if figures.get(label):
            pj[key] = {"value": figures[label], "unit": unit,
                       "derivation": f"measured (python -m power): {derivation} (idle "
                                     f"cycles of the run included)"}
        if figures.get(label + ", dynamic"):
            pj[key + "_dynamic"] = {"value": figures[label + ", dynamic"], "unit": unit,
                                    "derivation": f"measured: {derivation}, less the block's "
                                                  f"idle power x the run's time"}
    mw = {}
    for name, run in runs.items():
        for b in run.blocks:
            if name in ("engine-dense", "sec"):
                label = ("sec_" if name == "sec" else "") + b.block
                mw[f"{label}_idle"] = {"value": b.idle.total * 1e3,
                                       "unit": "mW while clocked with no toggles",
                                       "derivation": "OpenSTA with the recorded states and "
                                                     "zero activity (clock and leakage)"}
    return {"format": ENERGY_FORMAT, "status": "MEASURED",
            "about": "Logic energies per operation measured by python -m power (OpenSTA on our "
                     "mapped netlists, activity from Verilator SAIF); no clock gating; SRAM "
                     "macros are not included.",
            "frequency_hz": 1e9 / period_ns, "pj": pj, "mw": mw}


def _block_rows(runs):
    for name, run in runs.items():
        for b in run.blocks:
            yield {
                "run": name, "block": b.block, "module": b.module, "cycles": run.cycles,
                "internal_mw": b.annotated.internal * 1e3,
                "switching_mw": b.annotated.switching * 1e3,
                "leakage_mw": b.annotated.leakage * 1e3,
                "total_mw": b.annotated.total * 1e3,
                "idle_mw": b.idle.total * 1e3,
                "default_activity_mw": b.default.total * 1e3,
                "energy_pj": run.energy_pj(b),
                "registers_annotated": b.coverage.registers[0],
                "registers": b.coverage.registers[1],
                "ports_annotated": b.coverage.ports[0], "ports": b.coverage.ports[1],
                "sources_annotated": b.coverage.sources[0], "sources": b.coverage.sources[1],
                "opensta_s": round(b.seconds, 1),
            }


def write(out, label, config, options, runs, seconds):
    """Write ``report.md``, ``power.csv``, ``energy.json`` and ``energy.png`` to ``out``;
    returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    figures, energies = summary(runs, config)
    rows = list(_block_rows(runs))
    paths = {"md": out / "report.md", "csv": out / "power.csv", "json": out / "energy.json",
             "png": out / "energy.png"}
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = _energy_table(figures, options.period_ns, runs)
    table["configuration"] = {"name": label, "hash": config.hash}
    paths["json"].write_text(json.dumps(table, indent=1) + "\n")
    engine_blocks = [b.block for b in runs["engine-dense"].blocks if b.block != "total"]
    bars = []
    for name in ("engine-dense", "engine-video"):
        tiles = runs[name].simulation.result["tiles"]
        bars.append(("dense" if name == "engine-dense" else "concentrated",
                     [energies[name].get(block, 0.0) / tiles for block in engine_blocks],
                     f"{energies[name]['total'] / tiles / 1e3:.1f} nJ"))
    paths["png"].write_bytes(stacked_bar_chart(
        f"Energy per output tile, {label} ({config.dtype}, {config.rows}x{config.cols})",
        bars, engine_blocks))
    paths["md"].write_text(_markdown(label, config, options, runs, figures, rows, seconds))
    return paths


def _markdown(label, config, options, runs, figures, rows, seconds):
    dense, video = runs["engine-dense"], runs["engine-video"]
    lines = [f"# Power and energy: {label} (hash {config.hash})", "",
             f"{config.dtype}, {config.rows}x{config.cols} array, m_tile {config.m_tile}, "
             f"{config.scatter_lanes} scatter lanes, {config.matchers} matcher(s); OpenSTA at "
             f"{options.period_ns} ns ({1e3 / options.period_ns:.0f} MHz), the liberty's corner; "
             f"{seconds:.0f} s in all.", "",
             "## Energy per operation", "",
             "Whole run: the block's energy over the run (its idle cycles included) / the "
             "operations; dynamic: less the block's idle power (clock and leakage with no "
             "toggles) over the run, i.e. what the operations add to a clock that runs anyway.",
             "", "| figure | whole run pJ | dynamic pJ |", "|---|---:|---:|"]
    for key, value in figures.items():
        if key.endswith(", dynamic"):
            continue
        dynamic = figures.get(key + ", dynamic")
        lines.append(f"| {key} | {'-' if value is None else f'{value:,.3f}'} | "
                     f"{'-' if dynamic is None else f'{dynamic:,.3f}'} |")
    for name, run in runs.items():
        if run.failed:
            lines += ["", f"**Not measured in `{name}`: {', '.join(run.failed)}** (Debian's "
                          f"OpenSTA 2.0.17 crashes on these netlists, docs/power.md); the "
                          f"totals leave them out."]
    d_tile = figures.get("engine, pJ per output tile (dense)")
    c_tile = figures.get("engine, pJ per output tile (concentrated)")
    if d_tile and c_tile:
        lines += ["", f"Engine energy per output tile, concentrated / dense: "
                      f"{c_tile / d_tile:.3f} ({d_tile / c_tile:.2f}x less energy; published "
                      f"end-to-end energy efficiency 4.67x). Cycles per run: dense {dense.cycles},"
                      f" concentrated {video.cycles}."]
    lines += ["", "## Energy per output tile by block", "",
              "| block | dense nJ | concentrated nJ | concentrated / dense |",
              "|---|---:|---:|---:|"]
    for block in [b.block for b in dense.blocks]:
        per_tile = {}
        for name, run in (("dense", dense), ("video", video)):
            power = next((b for b in run.blocks if b.block == block), None)
            if power is None:
                per_tile[name] = float("nan")
                continue
            per_tile[name] = run.energy_pj(power) / run.simulation.result["tiles"] / 1e3
        ratio = per_tile["video"] / per_tile["dense"] if per_tile["dense"] else float("nan")
        lines.append(f"| {block} | {per_tile['dense']:,.1f} | {per_tile['video']:,.1f} | "
                     f"{ratio:.3f} |")
    if "engine-zeros" in runs:
        array = {name: next(b for b in runs[name].blocks if b.block == "array")
                 for name in ("engine-dense", "engine-zeros")}
        lines += ["", f"Array power with all-zero activations: "
                      f"{array['engine-zeros'].annotated.total * 1e3:.3f} mW, with the dense "
                      f"workload's: {array['engine-dense'].annotated.total * 1e3:.3f} mW."]
    lines += ["", "## Power per block and run", "",
              "| run | block | internal mW | switching mW | leakage mW | total mW | idle mW | "
              "default activity mW | energy pJ | registers annotated | ports annotated |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['block']} | {r['internal_mw']:.3f} | "
                     f"{r['switching_mw']:.3f} | {r['leakage_mw']:.5f} | {r['total_mw']:.3f} | "
                     f"{r['idle_mw']:.3f} | {r['default_activity_mw']:.3f} | "
                     f"{r['energy_pj']:,.0f} | "
                     f"{r['registers_annotated']}/{r['registers']} | "
                     f"{r['ports_annotated']}/{r['ports']} |")
    lines += ["", "## Runs", ""]
    for name, run in runs.items():
        sim = run.simulation
        lines.append(f"- `{name}`: {run.cycles} clock cycles recorded, simulation incl. build "
                     f"{sim.seconds:.0f} s; benchmark record `{json.dumps(sim.result)}`")
    for name, run in runs.items():
        total = next(b for b in run.blocks if b.block == "total")
        lines.append(f"- `{name}`: OpenSTA {total.seconds:.0f} s; {total.nan_cells} cell(s) "
                     f"with NaN power left out; activity sources "
                     f"{total.sources.total * 1e3:.3f} mW subtracted; registers annotated "
                     f"{total.coverage.registers[0]}/{total.coverage.registers[1]}"
                     + (f" ({total.coverage.sampled} from sampled PE columns "
                        f"{list(run.simulation.pe_columns)})" if total.coverage.sampled else "")
                     + f", input ports {total.coverage.ports[0]}/{total.coverage.ports[1]}")
    lines += ["", "`glue` is the top module's own cells. The activity sources stand in for "
              "constants on module pins and for SRAM read data (docs/power.md); SRAM macros "
              "themselves are not in these figures.", ""]
    return "\n".join(lines)
