"""PNG plots of an evaluation (matplotlib, Agg backend).

``speedup.png``        speedup and energy efficiency per case: ours next to the published bars
``layers-<case>.png``  per-block Focus cycles stacked by cause, with the dense cycles per block
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .cycles import CAUSES
from .evaluate import CaseResult

__all__ = ["plot_summary", "plot_layers", "available"]


def available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def plot_summary(rows: list[dict], title: str, path) -> Path:
    """Speedup and energy-efficiency bars per case, ours vs published."""
    plt = _pyplot()
    cases = [row for row in rows if row["case"] != "geometric mean"]
    labels = [row["case"] for row in cases] + ["geometric mean"]
    mean = next(row for row in rows if row["case"] == "geometric mean")
    figure, axes = plt.subplots(1, 2, figsize=(15, 5.5))
    for axis, key, label in ((axes[0], "speedup", "speedup vs dense"),
                             (axes[1], "energy_efficiency", "energy efficiency vs dense")):
        ours = [row[key] for row in cases] + [mean[key]]
        theirs = [row[f"published_{key}"] or 0 for row in cases] + [mean[f"published_{key}"] or 0]
        x = np.arange(len(labels))
        axis.bar(x - 0.2, ours, 0.4, label="ours (this model)")
        axis.bar(x + 0.2, theirs, 0.4, label="published", color="tab:gray")
        axis.set_xticks(x, labels, fontsize=7, rotation=35, ha="right")
        axis.set_ylabel(label)
        axis.axhline(1.0, color="black", linewidth=0.6)
        axis.legend(fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_layers(result: CaseResult, title: str, out_dir) -> Path:
    """Per-block cycles of the Focus mode stacked by cause, dense cycles as a line."""
    plt = _pyplot()
    blocks = result.case.model.blocks
    parts = {cause: np.zeros(blocks) for cause in CAUSES}
    dense = np.zeros(blocks)
    for layer in result.focus.layers:
        for cause in CAUSES:
            parts[cause][layer.block] += layer.cycles.parts[cause]
    for layer in result.dense.layers:
        dense[layer.block] += layer.cycles.total
    figure, axis = plt.subplots(figsize=(10, 4.5))
    bottom = np.zeros(blocks)
    x = np.arange(blocks)
    for cause in CAUSES:
        values = parts[cause]
        if np.any(values != 0):
            axis.bar(x, values, 0.8, bottom=bottom, label=cause)
            bottom = bottom + values
    axis.plot(x, dense, color="black", marker=".", label="dense (total)")
    axis.set_xlabel("block")
    axis.set_ylabel("cycles")
    axis.legend(fontsize=8, ncol=4, loc="upper right")
    axis.set_title(f"{result.case.name}: Focus cycles per block by cause\n{title}", fontsize=9)
    figure.tight_layout()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", result.case.name)
    path = Path(out_dir) / f"layers-{name}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
