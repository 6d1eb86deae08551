"""Sweep files: a base configuration, parameter axes, the system model's workload, the steps.

A sweep file is TOML::

    name = "lanes"                      # results go to build/dse/<name>/ (default: file stem)
    base = "paper"                      # a named configuration (python -m gen --list)
    set = ["window_vectors=512"]        # optional overrides of the base, as --set
    steps = ["generate", "area", "model"]

    [workload]                          # the system model's workload (step "model")
    cases = ["llava-video/videomme"]    # built-in cases (python -m perf cases), and/or
    file = "my-cases.toml"              # a perf workload file, relative to this sweep file

    [options.area]                      # per-step options (dse.steps lists them)
    liberty = false
    blocks = ["scatter_accumulator"]
    timeout = 3600                      # seconds; every step accepts it

    [[grid]]                            # a full grid over its keys (one factor: one key)
    label = "scatter lanes"             # optional, names the group in the table and plots
    scatter_lanes = [1, 2, 4, 8]

    [[point]]                           # single points
    label = "wide window"
    window = [3, 3, 3]
    window_vectors = 512

Points are the union of every grid's and every listed point's overrides applied to the base;
two that give the same configuration (the same :attr:`gen.config.FocusConfig.hash`) are one
point that belongs to both groups. A point whose parameters the generator rejects is kept,
with the generator's message, as a failed point: the sweep runs the others.
"""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from pathlib import Path

from gen.config import FocusConfig, get_config

__all__ = ["SweepError", "Point", "Sweep", "load_sweep", "parse_sweep", "BUILTIN_DIR",
           "builtin_sweeps", "resolve_sweep_path"]

#: Sweep files shipped with the package (``python -m dse NAME`` finds them by stem).
BUILTIN_DIR = Path(__file__).resolve().parent / "sweeps"

_TOP_KEYS = {"name", "base", "set", "steps", "workload", "options", "grid", "point",
             "description"}
_WORKLOAD_KEYS = {"cases", "file"}


class SweepError(ValueError):
    """A sweep file that cannot be run; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class Point:
    """One configuration of a sweep.

    Attributes
    ----------
    overrides : tuple of str
        ``key=value`` assignments on the base configuration (the sweep's ``set`` first), as
        ``python -m gen --set`` takes them.
    groups : tuple of str
        Labels of the grids / point entries that produced it.
    config : gen.config.FocusConfig or None
        The validated configuration; ``None`` when the generator rejected the parameters.
    error : str or None
        The generator's message for a rejected point.
    """

    overrides: tuple
    groups: tuple
    config: FocusConfig | None
    error: str | None = None

    @property
    def key(self):
        """Configuration hash, or ``invalid-<overrides>`` for a rejected point."""
        if self.config is not None:
            return self.config.hash
        return "invalid-" + ";".join(self.overrides)

    @property
    def label(self):
        """Short description: the point's own overrides (the sweep's ``set`` left out)."""
        return ", ".join(self.overrides) or "base"


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A parsed sweep file (see the module docstring).

    Attributes
    ----------
    name : str
    path : pathlib.Path or None
    base : str
        Named base configuration.
    base_set : tuple of str
        Overrides applied to every point.
    steps : tuple of str
    options : dict
        Step name -> its options (a dict).
    workload : dict
        ``{"cases": [...], "file": absolute path or None}``.
    points : tuple of Point
    description : str
    """

    name: str
    path: Path | None
    base: str
    base_set: tuple
    steps: tuple
    options: dict
    workload: dict
    points: tuple
    description: str = ""


def _value_text(key, value, where):
    """A TOML value as ``--set`` text: ``[2, 2, 2]`` -> ``2,2,2``."""
    if isinstance(value, bool):
        raise SweepError(f"{where}: {key} must be a number, a string or a list of numbers, "
                         f"got {value!r}")
    if isinstance(value, list):
        if not value or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise SweepError(f"{where}: {key} list values must be integers, got {value!r}")
        return ",".join(str(v) for v in value)
    if isinstance(value, (int, str)):
        return str(value)
    raise SweepError(f"{where}: {key} must be a number, a string or a list of numbers, "
                     f"got {value!r}")


def _known_parameters():
    return [field.name for field in dataclasses.fields(FocusConfig)]


def _check_parameter(key, where):
    if key not in _known_parameters():
        raise SweepError(f"{where}: unknown parameter {key!r}; known: "
                         f"{', '.join(_known_parameters())}")


def _grid_assignments(entry, where):
    """``[(label, [assignment, ...]), ...]`` of one ``[[grid]]`` table."""
    entry = dict(entry)
    label = entry.pop("label", None)
    if not entry:
        raise SweepError(f"{where}: a grid needs at least one parameter")
    axes = []
    for key, values in entry.items():
        _check_parameter(key, where)
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: grid values of {key} must be a non-empty list, "
                             f"got {values!r}")
        axes.append([f"{key}={_value_text(key, value, where)}" for value in values])
    label = label or " x ".join(entry)
    return [(label, list(combination)) for combination in itertools.product(*axes)]


def _point_assignments(entry, where):
    entry = dict(entry)
    label = entry.pop("label", None)
    assignments = []
    for key, value in entry.items():
        _check_parameter(key, where)
        assignments.append(f"{key}={_value_text(key, value, where)}")
    return [(label or (", ".join(assignments) or "base"), assignments)]


def _string_list(data, key, where):
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SweepError(f"{where}: {key} must be a list of strings, got {value!r}")
    return value


def parse_sweep(data, *, path=None, name=None):
    """A :class:`Sweep` from the parsed TOML ``data``.

    Parameters
    ----------
    data : dict
    path : pathlib.Path, optional
        The file it came from (relative workload files are resolved against its folder).
    name : str, optional
        Default name when the file gives none.

    Raises
    ------
    SweepError
        For unknown keys, a missing base or steps, unknown parameters, malformed values.
    """
    from .steps import STEPS   # the step registry validates names and options

    where = str(path) if path else "sweep"
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    if "base" not in data:
        raise SweepError(f"{where}: needs base = \"<configuration>\"")
    try:
        base_config = get_config(data["base"])
        base_set = tuple(_string_list(data, "set", where))
        base_config.with_overrides(base_set)
    except ValueError as error:
        raise SweepError(f"{where}: base: {error}") from None
    steps = _string_list(data, "steps", where)
    if not steps:
        raise SweepError(f"{where}: steps must name at least one of {', '.join(STEPS)}")
    for step in steps:
        if step not in STEPS:
            raise SweepError(f"{where}: unknown step {step!r}; known: {', '.join(STEPS)}")
    if len(set(steps)) != len(steps):
        raise SweepError(f"{where}: steps lists a step twice: {steps}")
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise SweepError(f"{where}: options must be a table of step tables")
    for step, values in options.items():
        if step not in STEPS:
            raise SweepError(f"{where}: options for unknown step {step!r}")
        STEPS[step].check_options(values, f"{where} [options.{step}]")
    workload = data.get("workload", {})
    unknown = set(workload) - _WORKLOAD_KEYS
    if unknown:
        raise SweepError(f"{where}: unknown workload key(s) {sorted(unknown)}; known: "
                         f"{sorted(_WORKLOAD_KEYS)}")
    cases = _string_list(workload, "cases", f"{where} [workload]")
    file = workload.get("file")
    if file is not None:
        file = Path(file)
        if not file.is_absolute() and path is not None:
            file = (Path(path).parent / file).resolve()
        if not file.is_file():
            raise SweepError(f"{where}: workload file {file} does not exist")
    if "model" in steps and not cases and file is None:
        raise SweepError(f"{where}: step model needs [workload] cases = [...] or file = ...")

    entries = []
    for index, grid in enumerate(data.get("grid", [])):
        entries += _grid_assignments(grid, f"{where} grid {index}")
    for index, point in enumerate(data.get("point", [])):
        entries += _point_assignments(point, f"{where} point {index}")
    if not entries:
        entries = [("base", [])]
    points, order = {}, []
    for label, assignments in entries:
        try:
            config = base_config.with_overrides(list(base_set) + assignments)
            error = None
        except ValueError as failure:
            config, error = None, str(failure)
        point = Point(tuple(assignments), (label,), config, error)
        known = points.get(point.key)
        if known is None:
            points[point.key] = point
            order.append(point.key)
        elif label not in known.groups:
            points[point.key] = dataclasses.replace(known, groups=known.groups + (label,))
    return Sweep(name=data.get("name") or name or "sweep", path=Path(path) if path else None,
                 base=data["base"], base_set=base_set, steps=tuple(steps),
                 options={step: dict(options.get(step, {})) for step in steps},
                 workload={"cases": cases, "file": str(file) if file else None},
                 points=tuple(points[key] for key in order),
                 description=data.get("description", ""))


def builtin_sweeps():
    """Stems of the sweep files shipped in :data:`BUILTIN_DIR`."""
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.toml"))


def resolve_sweep_path(text):
    """A sweep file path, or the built-in sweep called ``text``."""
    path = Path(text)
    if path.is_file():
        return path
    builtin = BUILTIN_DIR / f"{text}.toml"
    if builtin.is_file():
        return builtin
    raise SweepError(f"no sweep file {text!r} (and no built-in sweep of that name; built-in: "
                     f"{', '.join(builtin_sweeps()) or 'none'})")


def load_sweep(text):
    """Read and parse a sweep file (a path or a built-in sweep's name)."""
    path = resolve_sweep_path(text)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SweepError(f"{path}: not valid TOML: {error}") from None
    return parse_sweep(data, path=path, name=path.stem)
