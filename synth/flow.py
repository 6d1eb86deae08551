"""Synthesize and time the generated modules of one configuration.

Hierarchical method (default): every distinct module of the configuration is one
:class:`Unit`, synthesized once by Yosys in ``<out>/modules/<module>/`` with the child
modules it instantiates read as blackbox stubs (:func:`synth.netlist.blackbox_stub`). A
module whose inputs (RTL, child interfaces, script, tool version, liberty) are unchanged is
not synthesized again (``<prefix>.stamp``), so ``make timing`` after ``make area`` only runs
OpenSTA, and a changed parameter re-synthesizes only the modules whose text changed.

A block's figures are summed over the per-module statistics of every module it needs
(:class:`BlockResult`, instance counts from the hierarchy), and OpenSTA times the block on the
mapped netlists of all those modules linked together (:func:`time_block`), so paths crossing
module boundaries are timed end to end.

Flat method (``--full``): one Yosys run per block on all its files, flattened.
"""

import concurrent.futures
import dataclasses
import hashlib
import re
import shutil
import sys
import time
from pathlib import Path

from . import netlist as nl
from . import sta
from . import yosys as ys
from .tools import ToolError, Usage, run, sta_command, yosys_command

PREFIX = "synth"
_FLOP_RE = re.compile(r"DFF|DLATCH|\$_SR_", re.I)
#: Cell types Yosys' ``stat -tech cmos`` prices; any other leaf type makes the estimate a
#: lower bound.
CMOS_PRICED = frozenset({"$_BUF_", "$_NOT_", "$_AND_", "$_NAND_", "$_OR_", "$_NOR_",
                         "$_ANDNOT_", "$_ORNOT_", "$_XOR_", "$_XNOR_", "$_AOI3_", "$_OAI3_",
                         "$_AOI4_", "$_OAI4_", "$_MUX_", "$_NMUX_", "$_DFF_P_", "$_DFF_N_"})
#: Transistors per SRAM bit in the CMOS estimate (6T cell, periphery not counted).
SRAM_TRANSISTORS_PER_BIT = 6


def log_line(text):
    """Print one line in a single write (runs in parallel threads log through this)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclasses.dataclass(frozen=True)
class Options:
    """Flow settings (command line options of ``python -m synth``)."""

    liberty: object = None          # Library or None
    full: bool = False
    period_ns: float = 5.0
    max_fanout: int = 16
    output_load_pf: float = 0.02
    sram_um2_per_bit: float = 11.9


@dataclasses.dataclass(frozen=True)
class Unit:
    """The inputs of one Yosys run.

    Attributes
    ----------
    name : str
        Module name (hierarchical method) or block name (flat).
    top : str
        Top module of the run.
    rtl : str
        Verilog of the top and its private submodules (flat: of everything it needs).
    workdir : Path
    children : dict
        Module name -> generated Verilog of each module ``top`` instantiates; they are read as
        blackbox stubs (only their ports), synthesized by their own units.
    flatten : bool
        Flatten the hierarchy (``--full``).
    """

    name: str
    top: str
    rtl: str
    workdir: Path
    children: dict = dataclasses.field(default_factory=dict)
    flatten: bool = False


@dataclasses.dataclass
class ModuleResult:
    """What one Yosys run measured.

    Attributes
    ----------
    name, top : str
        The :class:`Unit`'s name and top module.
    classes : dict
        Representative module -> modules merged into it by :func:`synth.netlist.dedupe_modules`.
    generic, cmos, mapped : dict
        ``{module: yosys.ModuleStats}`` of the run's own modules (the top and its private
        submodules) for generic gates, CMOS-legalized gates and library cells (``mapped`` is
        ``None`` without a liberty). Child modules appear only as cell types.
    memories : list of yosys.Memory
    seconds, cpu_seconds : float
        Yosys wall-clock and CPU time, ABC included (of the original run when reused).
    reused : bool
        The stamp matched: Yosys did not run again.
    workdir : Path
    children : tuple
        Module names the top instantiates (synthesized by other runs).
    """

    name: str
    top: str
    classes: dict
    generic: dict
    cmos: dict
    mapped: object
    memories: list
    seconds: float
    cpu_seconds: float
    reused: bool
    workdir: Path
    children: tuple = ()

    @property
    def netlist(self):
        """The mapped netlist (``write_verilog`` after ``splitnets -ports``)."""
        return self.workdir / f"{PREFIX}.mapped.v"


def _union(results, kind):
    merged = {}
    for result in results:
        stats = getattr(result, kind)
        if stats is None:
            return None
        for name, entry in stats.items():
            if name in merged:
                raise ValueError(f"module {name} was synthesized by two runs "
                                 f"({result.name} and another); module names must be unique")
            merged[name] = entry
    return merged


@dataclasses.dataclass
class BlockResult:
    """Everything measured for one block, summed over the modules it needs.

    Attributes
    ----------
    name, module, description : str
        Block name, top module and one-line description.
    modules : list of ModuleResult
        The Yosys runs of every module the block needs (children before parents); shared with
        every other block that needs them.
    library : synth.liberty.Library or None
    workdir : Path
        Where the block's OpenSTA files go.
    timing : sta.TimingResult or None
    opaque : frozenset
        Module names counted as nothing (the children of a single module viewed on its own,
        :meth:`of_module`).

    Notes
    -----
    ``generic``, ``cmos``, ``mapped``, ``classes`` and ``memories`` are the union over
    ``modules``; every figure walks the hierarchy from the top with the instance counts of the
    statistics (a child module is a cell type of its parent's statistics).
    """

    name: str
    module: str
    description: str
    modules: list
    library: object = None
    workdir: Path = None
    timing: object = None
    opaque: frozenset = frozenset()

    def __post_init__(self):
        self.generic = _union(self.modules, "generic")
        self.cmos = _union(self.modules, "cmos")
        self.mapped = _union(self.modules, "mapped")
        self.classes = {k: v for m in self.modules for k, v in m.classes.items()}
        self.memories = [memory for m in self.modules for memory in m.memories]
        if self.module not in self.generic:
            raise ValueError(f"{self.name}: top module {self.module} missing from the Yosys "
                             "statistics")

    @classmethod
    def of_module(cls, result, library=None):
        """The figures of one module's own logic (its top and private submodules; the
        modules it instantiates count as nothing)."""
        return cls(result.name, result.top, "", [result], library, result.workdir,
                   opaque=frozenset(result.children))

    @property
    def seconds(self):
        """Yosys time of all the block's modules (original times of reused runs)."""
        return sum(m.seconds for m in self.modules)

    @property
    def cpu_seconds(self):
        """Yosys CPU time of all the block's modules."""
        return sum(m.cpu_seconds for m in self.modules)

    @property
    def reused(self):
        """No module of the block was synthesized in this run."""
        return all(m.reused for m in self.modules)

    # -- hierarchy ------------------------------------------------------------------------
    def instance_counts(self, module=None):
        """``{module: instances}`` of every module below ``module`` (default the top)."""
        counts = {}

        def visit(name, times):
            counts[name] = counts.get(name, 0) + times
            for cell, n in self.generic.get(name, ys.ModuleStats(name, {})).cells.items():
                if cell in self.generic:
                    visit(cell, times * n)
        visit(module or self.module, 1)
        return counts

    def _is_module(self, cell):
        return cell in self.generic or cell in self.opaque

    def _weighted(self, stats, value, module=None):
        """Sum ``value(cell_type, n)`` over leaf cells of ``module``'s hierarchy."""
        total = 0.0
        for name, times in self.instance_counts(module).items():
            for cell, n in stats[name].cells.items():
                if not self._is_module(cell):
                    total += times * value(cell, n)
        return total

    # -- figures ----------------------------------------------------------------------------
    def generic_cells(self, module=None):
        return int(self._weighted(self.generic, lambda c, n: 0 if _is_sram(c) else n, module))

    def flip_flops(self, module=None):
        return int(self._weighted(self.generic,
                                  lambda c, n: n if _FLOP_RE.search(c) else 0, module))

    def logic_transistors(self, module=None):
        counts = self.instance_counts(module)
        return sum(times * self.cmos[name].transistors for name, times in counts.items())

    def transistors_exact(self):
        return all(cell in CMOS_PRICED or self._is_module(cell) or _is_sram(cell)
                   for stats in self.cmos.values() for cell in stats.cells)

    def sram_bits(self, module=None):
        counts = self.instance_counts(module)
        return sum(counts.get(m.module, 0) * m.bits for m in self.memories)

    def sram_transistors(self):
        return SRAM_TRANSISTORS_PER_BIT * self.sram_bits()

    def cell_area(self, module=None):
        """Standard-cell area (library units, um^2) or ``None`` without a liberty."""
        if self.mapped is None:
            return None
        return self._weighted(self.mapped, self._leaf_area, module)

    def flop_area(self):
        if self.mapped is None:
            return None
        return self._weighted(self.mapped, lambda c, n: self._leaf_area(c, n)
                              if self._is_sequential(c) else 0.0)

    def _is_sequential(self, cell):
        return not _is_sram(cell) and self.library.cells[cell].sequential

    def _leaf_area(self, cell, n):
        if _is_sram(cell):
            return 0.0
        if cell not in self.library.cells:
            raise ValueError(f"{self.name}: mapped cell {cell} is not in {self.library.path}")
        return n * self.library.cells[cell].area

    def unpriced_cells(self):
        """Library cells used whose liberty area is zero (e.g. OSU018's LATCH)."""
        if self.mapped is None:
            return []
        return sorted({c for s in self.mapped.values() for c in s.cells
                       if c in self.library.cells and self.library.cells[c].area == 0})

    def parts(self):
        """Area breakdown of the top module: ``[(part, instances, each, total)]``.

        Submodule classes first (largest total first), then the top's own logic. A wrapper
        module holding nothing but one submodule instance is looked through, so its content is
        listed with the summed count.
        ``each``/``total`` are um^2 with a liberty, else CMOS transistors.
        """
        measure = self.cell_area if self.mapped is not None else self.logic_transistors
        counts = {}
        for cell, n in self.generic[self.module].cells.items():
            if cell in self.generic:
                inner = self._through_wrappers(cell)
                counts[inner] = counts.get(inner, 0) + n
        rows = [(_short(cell, self.classes), n, measure(cell), n * measure(cell))
                for cell, n in counts.items()]
        rows.sort(key=lambda r: -r[3])
        own = measure() - sum(r[3] for r in rows)
        if rows:
            rows.append(("other logic of the top module", 1, own, own))
        return rows

    def _through_wrappers(self, module):
        cells = self.generic[module].cells
        while len(cells) == 1:
            (inner, n), = cells.items()
            if inner not in self.generic or n != 1:
                break
            module, cells = inner, self.generic[inner].cells
        return module


def _is_sram(cell):
    return ys.SRAM_CELL in cell


def _short(module, classes):
    members = classes.get(module, [module])
    label = module.rsplit(".", 1)[-1]
    return f"{label} (class of {len(members)} identical modules)" if len(members) > 1 else label


# ----------------------------------------------------------------------------------------------
# Yosys runs

def _stamp(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


#: Blackbox stubs of the child modules, in each work directory.
CHILDREN_FILE = "children.v"


def _prepare(unit, rtl, stubs, options):
    """Write the inputs of one Yosys run into its work directory."""
    workdir = unit.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(rtl)
    (workdir / CHILDREN_FILE).write_text(stubs)
    (workdir / ys.SRAM_LIB_FILE).write_text(ys.SRAM_LIB)
    (workdir / ys.SRAM_MAP_FILE).write_text(ys.SRAM_MAP)
    (workdir / ys.PREFIX_ADDER_FILE).write_text(ys.PREFIX_ADDER)
    library = options.liberty
    if library is not None:
        shutil.copyfile(library.path, workdir / ys.LIBERTY_FILE)
        (workdir / ys.CONSTR_FILE).write_text(
            ys.abc_constraints(library.strongest_buffer().name, options.output_load_pf))
        (workdir / ys.ABC_SCRIPT_FILE).write_text(ys.abc_script(round(options.period_ns * 1000)))


def synthesize_unit(unit, options, *, yosys_version, log=log_line):
    """Run Yosys on one :class:`Unit` (unless its stamp is current) and read its statistics.

    Parameters
    ----------
    unit : Unit
    options : Options
    yosys_version : str
        Part of the reuse stamp.
    log : callable

    Returns
    -------
    ModuleResult
    """
    rtl, _ = nl.strip_zero_memory_init(unit.rtl)
    classes = {}
    if not unit.flatten:
        rtl, classes = nl.dedupe_modules(rtl)
    stubs = "".join(nl.blackbox_stub(text, name) for name, text in unit.children.items())
    _prepare(unit, rtl, stubs, options)
    library = options.liberty
    script = ys.synthesis_script(design="design.v", top=unit.top, prefix=PREFIX,
                                 blackboxes=CHILDREN_FILE if unit.children else None,
                                 flatten=unit.flatten, liberty=library is not None,
                                 period_ps=round(options.period_ns * 1000))
    (unit.workdir / "synth.ys").write_text(script)
    stamp = _stamp(rtl, stubs, script, yosys_version, ys.SRAM_LIB, ys.SRAM_MAP, ys.PREFIX_ADDER,
                   (unit.workdir / ys.CONSTR_FILE).read_text() if library else "",
                   (unit.workdir / ys.ABC_SCRIPT_FILE).read_text() if library else "",
                   library.path.read_bytes() if library else b"")
    what = (f"{unit.name} ({'flat' if unit.flatten else 'hierarchical'}"
            f"{', ' + library.name if library else ', generic only'})")
    usage, reused = _run_yosys_unless_current(unit.workdir, stamp, what, unit.name, log)

    def stats(kind):
        return ys.read_stat_json((unit.workdir / f"{PREFIX}.{kind}.json").read_text())
    generic = stats("generic")
    if unit.top not in generic:
        raise ValueError(f"{unit.name}: top module {unit.top} missing from Yosys statistics "
                         f"({unit.workdir / 'yosys.log'})")
    return ModuleResult(
        unit.name, unit.top, classes, generic, stats("cmos"),
        stats("mapped") if library else None,
        ys.read_memories((unit.workdir / f"{PREFIX}.memories.il").read_text()),
        usage.seconds, usage.cpu_seconds, reused, unit.workdir, tuple(unit.children))


def synthesize(name, module, description, rtl, workdir, options, *, yosys_version,
               log=log_line):
    """Synthesize one self-contained design (no child modules) as a block.

    Parameters
    ----------
    name, module, description : str
        Block name, top module, description.
    rtl : str
        Verilog of ``module`` and every module below it.
    workdir : Path
        Work directory (created).
    options : Options
        ``options.full`` flattens the design.
    yosys_version : str
        Part of the reuse stamp.

    Returns
    -------
    BlockResult
    """
    unit = Unit(name, module, rtl, Path(workdir), flatten=options.full)
    result = synthesize_unit(unit, options, yosys_version=yosys_version, log=log)
    return BlockResult(name, module, description, [result], options.liberty, Path(workdir))


def _run_yosys_unless_current(workdir, stamp, what, name, log):
    """Run ``synth.ys`` unless ``<prefix>.stamp`` matches.

    Returns
    -------
    usage : tools.Usage
        Yosys wall-clock and CPU time (of the original run when reused; ``<prefix>.seconds``).
    reused : bool
    """
    stamp_path = workdir / f"{PREFIX}.stamp"
    seconds_path = workdir / f"{PREFIX}.seconds"
    if stamp_path.exists() and stamp_path.read_text() == stamp and seconds_path.exists():
        usage = Usage(*map(float, seconds_path.read_text().split()))
        log(f"  yosys {what}: inputs unchanged, reused ({usage.seconds:.1f} s originally)")
        return usage, True
    stamp_path.unlink(missing_ok=True)
    log(f"  yosys {what} ...")
    usage = run([*yosys_command(), "-q", "-l", "yosys.log", "synth.ys"], cwd=workdir,
                log="yosys.out", what=f"Yosys on {what}")
    seconds_path.write_text(f"{usage.seconds:.1f} {usage.cpu_seconds:.1f}\n")
    stamp_path.write_text(stamp)
    log(f"  yosys {name}: {usage.seconds:.1f} s ({usage.cpu_seconds:.1f} s CPU)")
    return usage, False


# ----------------------------------------------------------------------------------------------
# OpenSTA

def time_block(result, options, *, clock_port="clk", log=log_line):
    """Run OpenSTA on a synthesized block; stores and returns a :class:`sta.TimingResult`.

    The mapped netlists of all the block's modules (each mapped once) are concatenated, the
    instances of split-port modules connected bit by bit
    (:func:`synth.netlist.split_instance_ports`), the SRAM blackboxes removed and nets of more
    than ``options.max_fanout`` loads buffered; OpenSTA links the whole hierarchy from the
    block's top (``link_design``) and times every path end to end, across module boundaries.
    When the netlists, the settings, OpenSTA and the preparation code are unchanged since the
    last run in the block's work directory, its result is reused (``sta.stamp``).
    """
    command = sta_command()
    if command is None:
        raise ToolError("OpenSTA (sta) not found: install Debian's opensta (make setup as "
                        "root)")
    library, workdir = options.liberty, Path(result.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    netlists = [m.netlist.read_text() for m in result.modules]
    buffer_cell = library.strongest_buffer().name
    script = sta.sta_script(
        netlist=sta.STA_NETLIST, liberty=ys.LIBERTY_FILE, top=result.module,
        period_ns=options.period_ns, clock_port=clock_port, buffer_cell=buffer_cell,
        output_load_pf=options.output_load_pf)
    stamp = _stamp(*netlists, script, options.max_fanout, " ".join(command),
                   library.path.read_bytes(), *(Path(m.__file__).read_bytes() for m in (nl, sta)))
    reused = sta.load_timing(workdir, stamp)
    if reused is not None:
        log(f"  sta {result.name}: netlists and settings unchanged, reused "
            f"({reused.seconds:.1f} s originally)")
        result.timing = reused
        return reused
    text = nl.split_instance_ports("".join(netlists))
    text, srams = sta.remove_instances(text, ys.SRAM_CELL)
    text, buffering = nl.buffer_high_fanout(text, library, max_fanout=options.max_fanout)
    (workdir / sta.STA_NETLIST).write_text(text)
    shutil.copyfile(library.path, workdir / ys.LIBERTY_FILE)
    (workdir / sta.STA_SCRIPT).write_text(script)
    prepared = time.perf_counter() - started
    log(f"  sta {result.name} ({len(result.modules)} module netlists, prepared in "
        f"{prepared:.1f} s) ...")
    usage = run([*command, "-exit", sta.STA_SCRIPT], cwd=workdir, log=sta.STA_LOG,
                what=f"OpenSTA on {result.name}")
    log_text = (workdir / sta.STA_LOG).read_text()
    slack, start, end, stages = sta.read_sta_log(log_text)
    result.timing = sta.TimingResult(options.period_ns, slack, start, end, stages, buffering,
                                     srams, usage.seconds, sta.read_instance_count(log_text),
                                     usage.cpu_seconds, prepared)
    sta.save_timing(workdir, stamp, result.timing)
    log(f"  sta {result.name}: {usage.seconds:.1f} s ({usage.cpu_seconds:.1f} s CPU)")
    return result.timing


# ----------------------------------------------------------------------------------------------
# Parallel runs

@dataclasses.dataclass(frozen=True)
class Task:
    """One job of :func:`run_tasks`: ``run(results)`` once every key in ``after`` is done.

    ``weight`` orders the ready tasks (largest first: long runs start early).
    """

    run: object
    after: tuple = ()
    weight: float = 0.0


def run_tasks(tasks, jobs):
    """Run ``{key: Task}`` in up to ``jobs`` threads, each after the tasks it depends on.

    Returns ``{key: result}``. The first failure stops new tasks from starting; the running
    ones finish, then the failure is raised.
    """
    unknown = {d for task in tasks.values() for d in task.after} - set(tasks)
    if unknown:
        raise ValueError(f"tasks depend on unknown task(s) {', '.join(map(str, unknown))}")
    results, pending, running, failure = {}, dict(tasks), {}, None
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        while pending or running:
            if failure is None:
                ready = sorted((k for k, t in pending.items()
                                if all(d in results for d in t.after)),
                               key=lambda k: -pending[k].weight)
                for key in ready[:max(1, jobs) - len(running)]:
                    running[pool.submit(pending.pop(key).run, results)] = key
            else:
                pending.clear()
            if not running:
                break
            done, _ = concurrent.futures.wait(running,
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                try:
                    results[key] = future.result()
                except Exception as error:      # re-raised once the running tasks are done
                    failure = failure or error
    if failure is not None:
        raise failure
    return results
