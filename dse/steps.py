"""The measurements of one sweep point, one function each, run through the project's CLIs.

Every step is a function ``step(context) -> dict of metrics`` registered with :func:`step`; it
runs the other layers as subprocesses (``python -m gen|synth|perf|sim_cocotb.bench_sic``) in
its own directory ``context.workdir`` (each tool gets its own ``--out`` there) and reads their
output files. A step that cannot produce its figures raises :class:`StepFailed` (tool error,
bad output), :class:`StepTimeout` or :class:`StepUnavailable` (the tool does not exist yet);
the runner records the message and the sweep goes on.

=========  ============================================================================
step       what (metrics are prefixed with the step name in the results table)
=========  ============================================================================
generate   ``python -m gen``: modules, Verilog bytes, wall time; checks the manifest hash
lint       ``python -m gen --lint``: Verilator ``-Wall`` lint clean
area       ``python -m synth area``: per-block and total area (um^2 with a liberty file,
           else the CMOS transistor estimate), SRAM bits
timing     ``python -m synth timing``: area as above plus critical path / Fmax per block
power      ``python -m power``: energy per operation and power per block and run
bench      ``python -m sim_cocotb.bench_sic``: SIC gather cycles per key of the point's
           gather unit under Verilator (the benchmark's 2x2x2 window only)
model      ``python -m perf run``: VLM prefill speedup, energy, cycles on the workload
=========  ============================================================================

Adding a step is one decorated function; its options are declared in the decorator and
checked when the sweep is read.
"""

from __future__ import annotations

import csv
import ctypes
import dataclasses
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

__all__ = ["STEPS", "Step", "StepContext", "StepError", "StepFailed", "StepTimeout",
           "StepUnavailable", "PROJECT_ROOT", "step", "source_fingerprint"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Options every step accepts: ``timeout`` in seconds (default: none).
COMMON_OPTIONS = {"timeout": None}


class StepError(Exception):
    """A step that did not produce its figures; ``status`` goes into the results table."""

    status = "failed"


class StepFailed(StepError):
    """A tool exited with an error or wrote unusable output."""


class StepTimeout(StepError):
    """A tool ran longer than the step's ``timeout``."""

    status = "timeout"


class StepUnavailable(StepError):
    """The measurement is not implemented by the project yet."""

    status = "unavailable"


@dataclasses.dataclass(frozen=True)
class Step:
    """A registered step.

    Attributes
    ----------
    name : str
    function : callable
        ``function(context) -> dict`` of metrics.
    options : dict
        Option name -> default (``None``: not given); ``timeout`` is added to every step.
    packages : tuple of str
        Project packages whose sources the result depends on (part of the cache key).
    version : int
        Bumped when the step function changes what it measures or reads (part of the
        cache key, so results of the old function are measured again).
    """

    name: str
    function: object
    options: dict
    packages: tuple
    version: int = 1

    def check_options(self, values, where):
        """Raise ``ValueError`` naming ``where`` for an unknown option or a wrong type."""
        from .sweep import SweepError
        if not isinstance(values, dict):
            raise SweepError(f"{where}: options must be a table")
        known = {**COMMON_OPTIONS, **self.options}
        for key, value in values.items():
            if key not in known:
                raise SweepError(f"{where}: unknown option {key!r} of step {self.name}; "
                                 f"known: {', '.join(known)}")
            default = known[key]
            if default is not None and not isinstance(value, type(default)) \
                    and not (isinstance(default, float) and isinstance(value, int)):
                raise SweepError(f"{where}: option {key} must be of type "
                                 f"{type(default).__name__} (like {default!r}), got {value!r}")
        timeout = values.get("timeout")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise SweepError(f"{where}: timeout must be a positive number of seconds, "
                             f"got {timeout!r}")

    def resolved(self, values):
        """The options with defaults filled in."""
        return {**COMMON_OPTIONS, **self.options, **values}


#: Registered steps by name, in the order of the results table.
STEPS: dict[str, Step] = {}


def step(name, *, options=None, packages=("rtl", "gen"), version=1):
    """Register ``function`` as the step ``name`` (a decorator)."""
    def register(function):
        STEPS[name] = Step(name, function, dict(options or {}), tuple(packages), version)
        return function
    return register


def source_fingerprint(packages):
    """Hash of the Python sources and data files of the project ``packages``."""
    digest = hashlib.sha256()
    for package in sorted(packages):
        root = PROJECT_ROOT / package
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".json", ".vlt", ".toml") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@dataclasses.dataclass
class StepContext:
    """What a step function gets.

    Attributes
    ----------
    base : str
        Named base configuration.
    overrides : list of str
        ``--set`` assignments of the point (the sweep's ``set`` included).
    config : dict
        The point's full configuration (``FocusConfig.to_dict()``).
    config_hash : str
    options : dict
        The step's options, defaults filled in.
    workload : dict
        The sweep's ``{"cases": [...], "file": path or None}``.
    workdir : pathlib.Path
        This task's own directory (created empty by the runner).
    env : dict
        Environment of the tool subprocesses.
    """

    base: str
    overrides: list
    config: dict
    config_hash: str
    options: dict
    workload: dict
    workdir: Path
    env: dict
    started: float = dataclasses.field(default_factory=time.monotonic)

    def config_args(self):
        """``--config BASE --set k=v ...`` as every CLI of the project takes them."""
        args = ["--config", self.base]
        for assignment in self.overrides:
            args += ["--set", assignment]
        return args

    def remaining(self):
        """Seconds left of the step's ``timeout`` (``None``: no limit)."""
        timeout = self.options.get("timeout")
        if timeout is None:
            return None
        return max(0.0, timeout - (time.monotonic() - self.started))

    def run(self, module, args, *, log):
        """Run ``python -m module args`` in the project root; its output goes to ``log``.

        Raises
        ------
        StepTimeout
            When the step's ``timeout`` expires (the tool's whole process group is killed).
        StepFailed
            When the tool exits non-zero; the message quotes its ``error:`` line (or the last
            lines of its output) and names the log file.
        """
        command = [sys.executable, "-m", module, *args]
        log_path = self.workdir / log
        with open(log_path, "w") as handle:
            handle.write("$ " + " ".join(command) + "\n")
            handle.flush()
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=handle,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       preexec_fn=_child_setup)
            try:
                returncode = process.wait(timeout=self.remaining())
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise StepTimeout(f"python -m {module} did not finish within the step's timeout "
                                  f"of {self.options['timeout']} s (log {log_path})") from None
            except BaseException:
                _kill_group(process)
                raise
        if returncode != 0:
            raise StepFailed(f"python -m {module} exited {returncode}: "
                             f"{_error_text(log_path)} (log {log_path})")
        return log_path


def _child_setup():
    """In the tool's process: its own process group (so a time-out kills all of it), and on
    Linux killed with its parent (a killed Ray worker leaves no tool running)."""
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _error_text(log_path):
    """The tool's last ``error:`` line (with the line after it when it ends in a colon, as
    a message quoting a log does), else its last three output lines."""
    lines = [line.rstrip() for line in Path(log_path).read_text(errors="replace").splitlines()
             if line.strip()]
    errors = [index for index, line in enumerate(lines) if line.startswith("error:")]
    if errors:
        index = errors[-1]
        text = lines[index][len("error:"):].strip()
        if text.endswith(":") and index + 1 < len(lines):
            text += " " + lines[index + 1].strip()
        return text
    return " | ".join(lines[-3:]) if lines else "no output"


def _number(text):
    """A CSV cell as a float (``None`` when empty)."""
    if text is None or text.strip() == "":
        return None
    return float(text)


def _list_option(value):
    return ",".join(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------------------
# generate, lint
# --------------------------------------------------------------------------------------


def _generate(context, *, lint):
    out = context.workdir / "verilog"
    args = context.config_args() + ["--out", str(out), "--jobs", "1"]
    if context.options.get("blocks"):
        args += ["--blocks", _list_option(context.options["blocks"])]
    if lint:
        args.append("--lint")
    started = time.perf_counter()
    context.run("gen", args, log="gen.log")
    seconds = time.perf_counter() - started
    manifest = json.loads((out / "manifest.json").read_text())
    if manifest.get("config_hash") != context.config_hash:
        raise StepFailed(f"the generator wrote configuration hash {manifest.get('config_hash')}, "
                         f"the sweep expected {context.config_hash}")
    files = [out / entry["file"] for entry in manifest["files"]]
    return {"modules": len(files), "verilog_bytes": sum(path.stat().st_size for path in files),
            "seconds": round(seconds, 2)}


@step("generate", options={"blocks": []})
def generate(context):
    """Generate the point's Verilog (``python -m gen``)."""
    return _generate(context, lint=False)


@step("lint", options={"blocks": []})
def lint(context):
    """Generate and lint the point's Verilog (``python -m gen --lint``)."""
    metrics = _generate(context, lint=True)
    return {"clean": True, "seconds": metrics["seconds"]}


# --------------------------------------------------------------------------------------
# area, timing, power
# --------------------------------------------------------------------------------------

#: Transistors per SRAM bit (6T cell) for a total area in transistors without a liberty file.
SRAM_TRANSISTORS_PER_BIT = 6

_SYNTH_OPTIONS = {"liberty": True, "liberty_file": "", "blocks": [], "reference": False,
                  "period": 5.0}


def _synth(context, command):
    out = context.workdir / "synth"
    options = context.options
    args = [command] + context.config_args() + ["--out", str(out), "--jobs", "1",
                                                "--period", str(options["period"])]
    if not options["liberty"]:
        args.append("--no-liberty")
    elif options["liberty_file"]:
        args += ["--liberty", options["liberty_file"]]
    if options["blocks"]:
        args += ["--blocks", _list_option(options["blocks"])]
    if not options["reference"]:
        args.append("--no-reference")
    context.run("synth", args, log=f"synth-{command}.log")
    return synth_metrics(out / "report.csv", timing=command == "timing")


def synth_metrics(path, *, timing):
    """Metrics of a ``python -m synth`` ``report.csv``.

    Per block row (not the per-module Yosys rows, not the reference PEs): ``<block>`` area
    (std-cell um^2 with a liberty file, else transistors) and, for ``timing``,
    ``<block>_fmax_mhz``. Totals over the blocks the report counts (role ``counted``):
    ``logic``, ``sram_bits``, ``sram_um2_est``, ``total`` (logic + SRAM: um^2 with a liberty
    file, else transistors with 6 per SRAM bit), ``unit``; ``fmax_mhz`` is the lowest Fmax of
    all synthesized blocks and ``critical_block`` the block that sets it.
    """
    rows = list(csv.DictReader(open(path, newline="")))
    blocks = [row for row in rows if row["status"] == "synthesized"]
    if not blocks:
        raise StepFailed(f"{path} lists no synthesized block")
    liberty = any(row["std_cell_area_um2"] for row in blocks)
    column = "std_cell_area_um2" if liberty else "transistors"
    metrics = {"unit": "um2" if liberty else "transistors"}
    counted = [row for row in blocks if row["role"] == "counted"]
    for row in blocks:
        metrics[row["block"]] = _number(row[column])
    logic = sum(_number(row[column]) or 0.0 for row in counted)
    sram_bits = sum(_number(row["sram_bits"]) or 0.0 for row in counted)
    sram_um2 = sum(_number(row["sram_area_est_um2"]) or 0.0 for row in counted)
    metrics.update(logic=logic, sram_bits=sram_bits, sram_um2_est=sram_um2,
                   total=logic + (sram_um2 if liberty else SRAM_TRANSISTORS_PER_BIT * sram_bits),
                   counted_blocks=len(counted))
    if timing:
        timed = [(row["block"], _number(row["fmax_mhz"])) for row in blocks
                 if _number(row["fmax_mhz"])]
        if not timed:
            raise StepFailed(f"{path} has no Fmax for any block")
        for block, fmax in timed:
            metrics[f"{block}_fmax_mhz"] = fmax
        metrics["critical_block"], metrics["fmax_mhz"] = min(timed, key=lambda item: item[1])
    return metrics


@step("area", options=_SYNTH_OPTIONS, packages=("rtl", "gen", "synth"))
def area(context):
    """Yosys area of the point's blocks (``python -m synth area``)."""
    return _synth(context, "area")


@step("timing", options=_SYNTH_OPTIONS, packages=("rtl", "gen", "synth"))
def timing(context):
    """Yosys area and OpenSTA Fmax of the point's blocks (``python -m synth timing``)."""
    return _synth(context, "timing")


@step("power", options={"period": 5.0, "slices": 4, "tiles": 2, "sec": True},
      packages=("rtl", "gen", "golden", "sim_cocotb", "synth", "power"))
def power(context):
    """Power and energy per operation of the point (``python -m power``): the measured
    energies per operation of ``energy.json`` (pJ, and the idle power of each block in mW)
    and, per run and block, the power in mW of ``power.csv``."""
    out = context.workdir / "power"
    options = context.options
    args = context.config_args() + ["--out", str(out), "--jobs", "1",
                                    "--period", str(options["period"]),
                                    "--slices", str(options["slices"]),
                                    "--tiles", str(options["tiles"])]
    if not options["sec"]:
        args.append("--no-sec")
    context.run("power", args, log="power.log")
    return power_metrics(out)


def power_metrics(out):
    """Metrics of a ``python -m power`` output folder: ``<key>_pj`` per energy-table entry,
    ``<block>_idle_mw``, and ``<run>_<block>_mw`` per row of ``power.csv``."""
    try:
        table = json.loads((out / "energy.json").read_text())
        rows = list(csv.DictReader(open(out / "power.csv", newline="")))
    except (OSError, ValueError) as error:
        raise StepFailed(f"cannot read the power report in {out}: {error}") from None
    metrics = {f"{key}_pj": entry["value"] for key, entry in table["pj"].items()}
    metrics.update({key + "_mw": entry["value"] for key, entry in table.get("mw", {}).items()})
    for row in rows:
        metrics[f"{row['run']}_{row['block']}_mw"] = _number(row["total_mw"])
    return metrics


# --------------------------------------------------------------------------------------
# bench (RTL benchmark)
# --------------------------------------------------------------------------------------

#: The window ``python -m sim_cocotb.bench_sic`` builds its gather unit with (the paper's).
BENCH_SIC_WINDOW = [2, 2, 2]


@step("bench", options={"geometry": "llava-video", "keep": 1.0},
      packages=("rtl", "gen", "golden", "sim_cocotb"))
def bench(context):
    """SIC gather cycles per key of the point's gather unit (``sim_cocotb.bench_sic``).

    The benchmark builds the paper's gather with the point's dtype, rows, m_tile,
    window_vectors and matchers; a point with another window is refused rather than measured
    on the wrong hardware. It runs through :mod:`dse.isolated`, which points the benchmark's
    output folder into this task's directory.
    """
    config = context.config
    if list(config["window"]) != BENCH_SIC_WINDOW:
        raise StepFailed(f"bench_sic measures the {'x'.join(map(str, BENCH_SIC_WINDOW))} window "
                         f"only; this point has window {'x'.join(map(str, config['window']))}")
    out = context.workdir / "bench"
    args = [str(out), "sim_cocotb.bench_sic", "--dtype", config["dtype"],
            "--rows", str(config["rows"]), "--m-tile", str(config["m_tile"]),
            "--window-vectors", str(config["window_vectors"]),
            "--matchers", str(config["matchers"]), "--geometry", context.options["geometry"],
            "--keep", str(context.options["keep"])]
    from sim_cocotb.bench_sic import result_name
    width, lanes = config.get("matcher_width"), config.get("collector_lanes")
    for option, value in (("--matcher-width", width), ("--collector-lanes", lanes)):
        if value is not None:
            args += [option, str(value)]
    context.run("dse.isolated", args, log="bench.log")
    name = result_name(config["dtype"], config["rows"], config["matchers"], width, lanes) + ".json"
    runs = json.loads((out / "build" / "bench" / name).read_text())
    run = runs[0]
    periods = sorted(run["tile_periods"])
    return {"keys": run["keys"], "cycles": run["cycles"],
            "cycles_per_key": run["cycles"] / run["keys"],
            "key_interval": run["key_interval_median"],
            "tile_period": periods[len(periods) // 2] if periods else None}


# --------------------------------------------------------------------------------------
# model (system model)
# --------------------------------------------------------------------------------------


def _workload_args(context):
    """``--cases`` / ``--workload`` arguments; a workload file gets the point's SIC window."""
    cases, file = context.workload["cases"], context.workload["file"]
    if cases and file:
        raise StepFailed("the model step takes built-in cases or a workload file, not both")
    if cases:
        if context.options["sparsity"] == "synthetic" and list(context.config["window"]) != [2, 2, 2]:
            raise StepFailed("built-in cases have the 2x2x2 SIC window; to sweep the window with "
                             "synthetic sparsity give the cases in a workload file")
        return ["--cases", *cases]
    text = Path(file).read_text()
    data = json.loads(text) if file.endswith(".json") else tomllib.loads(text)
    for case in data.get("case", []):
        case["window"] = list(context.config["window"])
    path = context.workdir / "workload.json"
    path.write_text(json.dumps(data, indent=1))
    return ["--workload", str(path)]


@step("model", options={"cycles": "published", "energy": "published",
                        "sparsity": "published-density", "calibration": "",
                        "cache": ""},
      packages=("gen", "golden", "perf"))
def model(context):
    """VLM prefill speedup and energy of the point (``python -m perf run``).

    Options: ``cycles`` (``published``: the publication's formula with the point's array,
    m_tile, lanes and matchers; ``rtl``: our calibrated model, which needs a ``calibration``
    table measured for this configuration), ``energy`` (``published`` or ``ours``),
    ``sparsity`` (``published-density``, ``synthetic`` or an op density as a string, e.g.
    ``"0.2"``),
    ``cache`` (sparsity cache folder, default perf's).
    """
    options = context.options
    out = context.workdir / "model"
    args = ["run"] + context.config_args() + _workload_args(context) + [
        "--cycles", options["cycles"], "--energy", options["energy"], "--out", str(out),
        "--no-plots", "--no-progress", "--jobs", "1"]
    if options["calibration"]:
        args += ["--calibration", options["calibration"]]
    if options["cache"]:
        args += ["--cache", options["cache"]]
    sparsity = options["sparsity"]
    if sparsity == "published-density":
        args.append("--published-density")
    elif sparsity != "synthetic":
        try:
            args += ["--density", str(float(sparsity))]
        except ValueError:
            raise StepFailed(f"model option sparsity must be 'published-density', 'synthetic' or "
                             f"a number, got {sparsity!r}") from None
    context.run("perf", args, log="perf.log")
    return model_metrics(out / "summary.json")


def model_metrics(path):
    """Metrics of a ``python -m perf run`` ``summary.json``: geometric-mean speedup and energy
    efficiency, total Focus cycles / energy, cycle-weighted stall share, and per case
    ``speedup[<case>]``; ``energy_label`` says which energy model (PLACEHOLDER marked)."""
    data = json.loads(Path(path).read_text())
    cases = [case for case in data["cases"] if "sequence" in case]   # not the geomean row
    if not cases:
        raise StepFailed(f"{path} has no case")
    focus_cycles = sum(case["focus_cycles"] for case in cases)
    metrics = {
        "speedup": math.exp(sum(math.log(c["speedup"]) for c in cases) / len(cases)),
        "energy_efficiency": math.exp(sum(math.log(c["energy_efficiency"]) for c in cases)
                                      / len(cases)),
        "focus_cycles": focus_cycles,
        "dense_cycles": sum(case["dense_cycles"] for case in cases),
        "focus_energy_mj": sum(case["focus_energy_mj"] for case in cases),
        "stall_share": sum(c["focus_stall_share"] * c["focus_cycles"] for c in cases)
        / focus_cycles,
        "op_density": sum(c["op_density"] for c in cases) / len(cases),
        "energy_label": data["header"]["energy"],
        "cycles_label": data["header"]["cycles"],
    }
    for case in cases:
        metrics[f"speedup[{case['case']}]"] = case["speedup"]
    return metrics
