"""Reports of an evaluation: the summary table, per-layer and per-case CSV, JSON.

Every report names the configuration, the cycle model, the energy model (and says
PLACEHOLDER when its energies are), the calibration table and the sparsity source, and puts
the PUBLISHED figures next to ours, labelled as such.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .cycles import CAUSES
from .evaluate import CaseResult, geomean

__all__ = ["summary_rows", "format_summary", "format_markdown", "write_outputs"]


def summary_rows(results: list[CaseResult], published: dict) -> list[dict]:
    """One row per case (plus the geometric mean) with ours and the published figures."""
    rows = []
    for result in results:
        name = result.case.name
        reference = published["cases"].get(name, {})
        dense, focus = result.dense, result.focus
        focus_cycles = focus.cycles
        rows.append({
            "case": name,
            "sequence": result.case.sequence,
            "sparsity_source": result.sparsity_source,
            "dense_cycles": dense.cycles.total,
            "focus_cycles": focus_cycles.total,
            "speedup": result.speedup,
            "dense_energy_mj": sum(dense.energy.values()),
            "focus_energy_mj": sum(focus.energy.values()),
            "energy_efficiency": result.energy_efficiency,
            "op_density": result.op_density,
            "focus_stall_share": focus_cycles.stalls / focus_cycles.total,
            **{f"focus_{cause}_cycles": focus_cycles.parts[cause] for cause in CAUSES},
            "focus_macs": focus.total("macs"),
            "dense_macs": dense.total("macs"),
            "focus_dram_bytes": focus.total("dram_bytes"),
            "dense_dram_bytes": dense.total("dram_bytes"),
            **{f"focus_energy_{key}_mj": value for key, value in focus.energy.items()},
            **{f"dense_energy_{key}_mj": value for key, value in dense.energy.items()},
            "published_speedup": reference.get("speedup"),
            "published_energy_efficiency": reference.get("energy_efficiency"),
            "published_op_density": reference.get("op_density"),
            "published_dense_cycles": reference.get("dense", {}).get("cycles"),
            "published_focus_cycles": reference.get("focus", {}).get("cycles"),
        })
    if results:
        with_published = [r for r in rows if r["published_speedup"] is not None]
        rows.append({
            "case": "geometric mean",
            "speedup": geomean(r["speedup"] for r in rows),
            "energy_efficiency": geomean(r["energy_efficiency"] for r in rows),
            "published_speedup": (published["geomean"]["speedup"]
                                  if len(with_published) == len(published["cases"]) else None),
            "published_energy_efficiency": (published["geomean"]["energy_efficiency"]
                                            if len(with_published) == len(published["cases"])
                                            else None),
        })
    return rows


def _number(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_summary(rows: list[dict], header: dict) -> str:
    """The human-readable nine-case table."""
    lines = [f"Focus system model: {header['config']} (hash {header['config_hash']}), "
             f"cycles: {header['cycles']}, energy: {header['energy']}"]
    for key in ("calibration", "sparsity"):
        if header.get(key):
            lines.append(f"{key:<12}{header[key]}")
    if header.get("placeholder"):
        lines.append("energy      PLACEHOLDER per-operation energies (perf/data/"
                     "energy-placeholder.json, derived from published figures), not measured")
    lines += ["",
              f"{'case':<26}{'dense cycles':>15}{'Focus cycles':>15}{'speedup':>9}"
              f"{'energy eff':>11}{'op density':>11}{'stalls':>8}   "
              f"{'published: speedup':>18}{'energy eff':>11}{'op density':>11}"]
    for row in rows:
        if row["case"] == "geometric mean":
            lines.append(f"{'geometric mean':<26}{'':>15}{'':>15}{row['speedup']:>8.2f}x"
                         f"{row['energy_efficiency']:>10.2f}x{'':>11}{'':>8}   "
                         f"{_number(row['published_speedup'], '.3f'):>17}x"
                         f"{_number(row['published_energy_efficiency'], '.3f'):>10}x")
            continue
        lines.append(
            f"{row['case']:<26}{row['dense_cycles']:>15.4g}{row['focus_cycles']:>15.4g}"
            f"{row['speedup']:>8.2f}x{row['energy_efficiency']:>10.2f}x{row['op_density']:>11.4f}"
            f"{100 * row['focus_stall_share']:>7.1f}%   "
            f"{_number(row['published_speedup'], '.3f'):>17}x"
            f"{_number(row['published_energy_efficiency'], '.3f'):>10}x"
            f"{_number(row['published_op_density'], '.4f'):>11}")
    lines.append("(published: figures of the Focus publication, spec system.md 4)")
    return "\n".join(lines)


def format_markdown(rows: list[dict]) -> str:
    """The summary as a Markdown table (for docs/system.md)."""
    lines = ["| case | dense cycles | Focus cycles | speedup | energy eff. | op density | "
             "stalls | published speedup | published energy eff. | published op density |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if row["case"] == "geometric mean":
            lines.append(f"| **geometric mean** | | | **{row['speedup']:.2f}x** | "
                         f"**{row['energy_efficiency']:.2f}x** | | | "
                         f"{_number(row['published_speedup'], '.3f')}x | "
                         f"{_number(row['published_energy_efficiency'], '.3f')}x | |")
            continue
        lines.append(f"| {row['case']} | {row['dense_cycles']:.4g} | {row['focus_cycles']:.4g} | "
                     f"{row['speedup']:.2f}x | {row['energy_efficiency']:.2f}x | "
                     f"{row['op_density']:.4f} | {100 * row['focus_stall_share']:.1f} % | "
                     f"{_number(row['published_speedup'], '.3f')}x | "
                     f"{_number(row['published_energy_efficiency'], '.3f')}x | "
                     f"{_number(row['published_op_density'], '.4f')} |")
    return "\n".join(lines)


def _layer_rows(results: list[CaseResult]):
    for result in results:
        for mode in (result.dense, result.focus):
            for layer in mode.layers:
                row = {"case": result.case.name, "mode": mode.mode, "block": layer.block,
                       "gemm": layer.gemm, "cycles": layer.cycles.total}
                row.update({f"{cause}_cycles": layer.cycles.parts[cause] for cause in CAUSES})
                row.update({"array_vectors": layer.cycles.vectors, "macs": layer.macs,
                            "dense_macs": layer.dense_macs,
                            "dram_bytes": layer.dram_bytes, "sram_bytes": layer.sram_bytes})
                row.update({f"energy_{key}_mj": value for key, value in layer.energy.items()})
                yield row


def _write_csv(path: Path, rows) -> None:
    rows = list(rows)
    fields: list[str] = []
    for row in rows:
        fields += [key for key in row if key not in fields]
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def write_outputs(results: list[CaseResult], rows: list[dict], header: dict, out_dir) -> list[Path]:
    """``summary.csv``, ``summary.json`` (header + rows), ``layers.csv`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "summary.csv", rows)
    (out / "summary.json").write_text(json.dumps({"header": header, "cases": rows}, indent=1) + "\n")
    _write_csv(out / "layers.csv", _layer_rows(results))
    (out / "summary.md").write_text(format_markdown(rows) + "\n")
    return [out / "summary.csv", out / "summary.json", out / "layers.csv", out / "summary.md"]
