"""The results table of a sweep: one row per point, Pareto fronts, CSV / JSON / Parquet, plots.

Columns: ``point`` (1-based, in sweep order), ``groups``, ``config_hash``, ``overrides``, the
configuration's parameters, ``status`` (``ok`` when every step succeeded, ``failed`` when one
did not or the generator rejected the parameters, ``not run`` after an interruption),
``error`` (the first problem, prefixed with its step); per step ``<step>.status``,
``<step>.seconds``, ``<step>.cached``, ``<step>.stale`` (measured with other sources of
the step's packages than the current ones) and its metrics ``<step>.<metric>``; and the Pareto
marks ``pareto.area_speedup`` (smallest ``area.total`` (or ``timing.total``) for its
``model.speedup``) and ``pareto.energy_speedup`` (smallest ``model.focus_energy_mj``),
blank for a point that lacks one of the two figures.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

from gen.config import FocusConfig

from .runner import plan_tasks, write_atomic

__all__ = ["build_rows", "pareto_front", "write_table", "write_plots", "FRONTS"]

#: (name, x column candidates (minimized), y column (maximized)).
FRONTS = (("area_speedup", ("area.total", "timing.total"), "model.speedup"),
          ("energy_speedup", ("model.focus_energy_mj",), "model.speedup"))

#: Configuration parameters, one column each (optional ones left at their default are blank).
_PARAMETERS = tuple(field.name for field in dataclasses.fields(FocusConfig))


def build_rows(sweep, results, steps=None):
    """Rows (dicts, in sweep order) from the task ``results`` of :func:`dse.runner.run_sweep`."""
    tasks = {}
    for task in plan_tasks(sweep, steps):
        tasks.setdefault(task.point.key, []).append(task)
    rows = []
    for index, point in enumerate(sweep.points, 1):
        row = {"point": index, "groups": "; ".join(point.groups),
               "config_hash": point.config.hash if point.config else "",
               "overrides": " ".join(point.overrides)}
        config = point.config.to_dict() if point.config else {}
        for name in _PARAMETERS:
            value = config.get(name, "")
            row[name] = "x".join(map(str, value)) if isinstance(value, list) else value
        if point.config is None:
            row.update(status="failed", error=f"parameters: {point.error}")
            rows.append(row)
            continue
        errors, missing = [], False
        for task in tasks.get(point.key, []):
            result = results.get(task.key)
            prefix = task.step
            if result is None:
                missing = True
                row[f"{prefix}.status"] = "not run"
                continue
            row[f"{prefix}.status"] = result["status"]
            row[f"{prefix}.seconds"] = result["seconds"]
            row[f"{prefix}.cached"] = result.get("cached", False)
            row[f"{prefix}.stale"] = result.get("stale", False)
            row[f"{prefix}.attempts"] = result.get("attempts", result.get("attempt", 1))
            for metric, value in result["metrics"].items():
                row[f"{prefix}.{metric}"] = value
            if result["status"] != "ok":
                errors.append(f"{task.step}: {result['error']}")
        row["status"] = "failed" if errors else ("not run" if missing else "ok")
        row["error"] = errors[0] if errors else ""
        rows.append(row)
    for name, x_columns, y_column in FRONTS:
        x_column = next((c for c in x_columns if any(c in row for row in rows)), x_columns[0])
        marks = pareto_front(rows, x_column, y_column)
        for row, mark in zip(rows, marks):
            row[f"pareto.{name}"] = mark
    return rows


def pareto_front(rows, x_column, y_column):
    """Per row: ``True`` when no other row has ``x <=`` and ``y >=`` with one of them strict
    (x minimized, y maximized), ``False`` when one has, ``""`` when the row lacks a value."""
    points = [(row.get(x_column), row.get(y_column)) if row.get("status") == "ok" else
              (None, None) for row in rows]
    marks = []
    for x, y in points:
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            marks.append("")
            continue
        dominated = any(isinstance(a, (int, float)) and isinstance(b, (int, float))
                        and a <= x and b >= y and (a < x or b > y) for a, b in points)
        marks.append(not dominated)
    return marks


def _columns(rows):
    columns = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


def write_table(rows, out, header):
    """Write ``results.csv`` and ``results.json`` (and ``results.parquet`` when pyarrow is
    installed) into ``out``, each atomically; returns the written paths."""
    columns = _columns(rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    paths = [out / "results.csv", out / "results.json"]
    write_atomic(paths[0], text.getvalue())
    write_atomic(paths[1], json.dumps({**header, "columns": columns, "rows": rows}, indent=1,
                                      default=str) + "\n")
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        return paths
    table = pyarrow.table({column: [_plain(row.get(column)) for row in rows]
                           for column in columns})
    temporary = out / ".results.parquet.tmp"
    pyarrow.parquet.write_table(table, temporary)
    temporary.replace(out / "results.parquet")
    return paths + [out / "results.parquet"]


def _plain(value):
    return "" if value is None else str(value)


def write_plots(rows, out, title):
    """PNG plots into ``out/plots``: each Pareto front, and per one-parameter group its
    speedup and area against the parameter. Returns the written paths (none without
    matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    folder = out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, x_columns, y_column in FRONTS:
        x_column = next((c for c in x_columns if any(c in row for row in rows)), None)
        usable = [row for row in rows if row.get(f"pareto.{name}") in (True, False)]
        if x_column is None or not usable:
            continue
        unit = usable[0].get(f"{x_column.split('.')[0]}.unit", "mJ")
        figure, axes = plt.subplots(figsize=(7, 5))
        axes.scatter([row[x_column] for row in usable], [row[y_column] for row in usable],
                     color="0.6", label="points")
        front = sorted((row for row in usable if row[f"pareto.{name}"]),
                       key=lambda row: row[x_column])
        axes.plot([row[x_column] for row in front], [row[y_column] for row in front], "o-",
                  color="C3", label="Pareto front")
        for row in front:
            axes.annotate(row["overrides"] or "base", (row[x_column], row[y_column]),
                          fontsize=7, xytext=(4, 4), textcoords="offset points")
        axes.ticklabel_format(axis="y", useOffset=False)
        axes.set_xlabel(f"{x_column} ({unit})")
        axes.set_ylabel(f"{y_column} (x over dense)")
        axes.set_title(f"{title}: {name.replace('_', ' vs ')}", fontsize=9)
        axes.legend(fontsize=8)
        figure.tight_layout()
        path = folder / f"pareto-{name}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    written += _group_plots(rows, folder, title, plt)
    return written


def _group_plots(rows, folder, title, plt):
    """Per group whose points differ in one parameter: speedup and area against it."""
    written = []
    groups = []
    for row in rows:
        for group in row["groups"].split("; "):
            if group and group not in groups:
                groups.append(group)
    for group in groups:
        members = [row for row in rows if group in row["groups"].split("; ")
                   and row.get("status") == "ok"]
        varying = [name for name in _PARAMETERS
                   if len({str(row[name]) for row in members}) > 1]
        if len(members) < 2 or not varying:
            continue
        # one parameter: against its values; several (e.g. a window with its layouter size):
        # against the first, each point labelled with its overrides
        parameter = varying[0]
        members.sort(key=lambda row: _sort_key(row[parameter]))
        labels = [str(row[parameter]) if len(varying) == 1 else row["overrides"]
                  for row in members]
        series = [(column, column.split(".")[0]) for column in
                  ("model.speedup", "area.total", "timing.total", "timing.fmax_mhz")
                  if all(isinstance(row.get(column), (int, float)) for row in members)]
        if not series:
            continue
        figure, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 3.6),
                                    squeeze=False)
        for axis, (column, step) in zip(axes[0], series):
            axis.plot(labels, [row[column] for row in members], "o-")
            axis.ticklabel_format(axis="y", useOffset=False)
            unit = members[0].get(f"{step}.unit", "")
            axis.set_xlabel(parameter)
            axis.set_ylabel(column + (f" ({unit})" if unit and column.endswith("total") else ""))
        figure.suptitle(f"{title}: {group}", fontsize=9)
        figure.tight_layout()
        path = folder / f"group-{_slug(group)}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def _sort_key(value):
    if isinstance(value, (int, float)):
        return (0, value, "")
    parts = str(value).split("x")
    if all(part.isdigit() for part in parts):
        return (1, sum(int(part) for part in parts), str(value))
    return (2, 0, str(value))


def _slug(text):
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
