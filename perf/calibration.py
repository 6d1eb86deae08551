"""Calibration tables: the per-tile cycle functions of our hardware, measured.

A table is a JSON file (format ``focus-perf-calibration/1``) that records the configuration
it was measured for (name and ``FocusConfig.hash``), the command or documents it came from,
the raw measurements, and the few numbers the RTL cycle model reads (``model``), each with
its provenance (``provenance``):

=========================  ===================================================================
``model`` key              meaning
=========================  ===================================================================
``array_min_period``       shortest back-to-back fold period: ``reload_gap + rows - 1``
                           (a fold of p vectors takes ``max(p, min_period)`` in steady state)
``array_latency``          first vector in -> its partial sums out
``array_first_load``       beats to load the first weight tile (= rows)
``scatter_lanes``          tokens the scatter accumulator adds per cycle (slice cost
                           ``ceil(tokens / lanes)``)
``tile_overhead_dense``    engine cycles per output tile beyond its slices, dense mode
``tile_overhead_focus``    the same, concentrated mode
``edge_dense``             fill + drain of one engine run (GEMM) without gather
``edge_gathered``          fill + drain of a run whose output is gathered, not counting the
                           last tile's gather (fitted; negative when that gather overlaps
                           the last slices)
``gather_matchers``        the matcher count the gather figures belong to
``gather_key_interval``    cycles per key inside a tile (G = ceil(7 / matchers))
``gather_flush``           pipeline flush per tile (tile period = keys * G + flush)
``analyzer_vectors_per_cycle``  SEC importance analyzer rate
``sorter_over_formula``    measured top-k sorter cycles / ``golden.sec.sorter_cycles``
=========================  ===================================================================

:func:`load_table` refuses a table whose hash differs from the configuration's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FORMAT", "MODEL_KEYS", "CalibrationError", "Calibration", "load_table",
           "default_table_path", "COMMITTED_DIR"]

FORMAT = "focus-perf-calibration/1"
MODEL_KEYS = ("array_min_period", "array_latency", "array_first_load", "scatter_lanes",
              "tile_overhead_dense", "tile_overhead_focus", "edge_dense", "edge_gathered",
              "gather_matchers", "gather_key_interval", "gather_flush",
              "analyzer_vectors_per_cycle", "sorter_over_formula")

#: Tables committed with the repository (built from the figures recorded in docs/).
COMMITTED_DIR = Path(__file__).parent / "data" / "calibration"


class CalibrationError(ValueError):
    """A calibration table that cannot serve the configuration."""


@dataclass(frozen=True)
class Calibration:
    """A loaded, checked calibration table."""

    path: Path
    config_name: str
    config_hash: str
    command: str
    model: dict[str, float]
    data: dict

    def __getattr__(self, name):
        model = self.__dict__.get("model", {})
        if name in model:
            return model[name]
        raise AttributeError(name)


def default_table_path(config_name: str, build_root: Path) -> Path:
    """A freshly measured table (``build_root/calibration/<name>.json``) if there is one,
    else the committed one (``perf/data/calibration/<name>.json``)."""
    measured = Path(build_root) / "calibration" / f"{config_name}.json"
    return measured if measured.exists() else COMMITTED_DIR / f"{config_name}.json"


def load_table(path, config, config_name: str = "") -> Calibration:
    """Read ``path`` and check it against ``config`` (a ``gen.config.FocusConfig``).

    Raises
    ------
    CalibrationError
        If the file is missing or malformed, or was measured for another configuration hash.
    """
    path = Path(path)
    if not path.exists():
        raise CalibrationError(
            f"no calibration table {path}; measure one with `make calibrate CONFIG={config_name or '<name>'}` "
            "or pass --calibration FILE (or use --cycles published)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CalibrationError(f"calibration table {path} is not valid JSON: {error}") from None
    if data.get("format") != FORMAT:
        raise CalibrationError(f"calibration table {path} has format {data.get('format')!r}, "
                               f"expected {FORMAT!r}")
    recorded = data.get("config_hash")
    if recorded != config.hash:
        raise CalibrationError(
            f"stale calibration table {path}: it was measured for configuration hash {recorded} "
            f"({data.get('config', '?')}), but {config_name or 'the configuration'} has hash "
            f"{config.hash}; re-measure with `make calibrate CONFIG={config_name or '<name>'}`")
    model = data.get("model", {})
    missing = [key for key in MODEL_KEYS if not isinstance(model.get(key), (int, float))]
    if missing:
        raise CalibrationError(f"calibration table {path} lacks numeric model value(s) {missing}")
    if model["scatter_lanes"] != config.scatter_lanes or model["gather_matchers"] != config.matchers:
        raise CalibrationError(f"calibration table {path}: scatter_lanes/gather_matchers "
                               f"({model['scatter_lanes']}/{model['gather_matchers']}) differ from "
                               f"the configuration ({config.scatter_lanes}/{config.matchers})")
    return Calibration(path, data.get("config", ""), recorded, data.get("command", ""),
                       dict(model), data)
