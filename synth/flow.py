"""Synthesize and time the generated blocks of one configuration.

Each block gets a work directory ``<out>/<block>/`` holding its RTL (deduplicated unless
flat), the Yosys script and log, the statistics, the mapped netlist and the OpenSTA files.
A block whose inputs (RTL, script, tool version, liberty) are unchanged is not synthesized
again (``<prefix>.stamp``), so ``make timing`` after ``make area`` only runs OpenSTA.
"""

import dataclasses
import hashlib
import re
import shutil
import time
from pathlib import Path

from . import netlist as nl
from . import sta
from . import yosys as ys
from .tools import ToolError, run, sta_command, yosys_command

PREFIX = "block"
_FLOP_RE = re.compile(r"DFF|DLATCH|\$_SR_", re.I)
#: Cell types Yosys' ``stat -tech cmos`` prices; any other leaf type makes the estimate a
#: lower bound.
CMOS_PRICED = frozenset({"$_BUF_", "$_NOT_", "$_AND_", "$_NAND_", "$_OR_", "$_NOR_",
                         "$_ANDNOT_", "$_ORNOT_", "$_XOR_", "$_XNOR_", "$_AOI3_", "$_OAI3_",
                         "$_AOI4_", "$_OAI4_", "$_MUX_", "$_NMUX_", "$_DFF_P_", "$_DFF_N_"})
#: Transistors per SRAM bit in the CMOS estimate (6T cell, periphery not counted).
SRAM_TRANSISTORS_PER_BIT = 6


@dataclasses.dataclass(frozen=True)
class Options:
    """Flow settings (command line options of ``python -m synth``)."""

    liberty: object = None          # Library or None
    full: bool = False
    period_ns: float = 5.0
    max_fanout: int = 16
    output_load_pf: float = 0.02
    sram_um2_per_bit: float = 11.9


@dataclasses.dataclass
class BlockResult:
    """Everything measured for one block.

    Attributes
    ----------
    name, module, description : str
        Block name (file stem), top module and one-line description.
    classes : dict
        Representative module -> modules merged into it (hierarchical method).
    generic, cmos, mapped : dict
        ``{module: yosys.ModuleStats}`` for generic gates, CMOS-legalized gates and library
        cells (``mapped`` is ``None`` without a liberty).
    memories : list of yosys.Memory
    seconds : float
        Yosys wall-clock time (0 when reused from a previous run).
    workdir : Path
    """

    name: str
    module: str
    description: str
    classes: dict
    generic: dict
    cmos: dict
    mapped: object
    memories: list
    seconds: float
    workdir: Path
    library: object = None
    timing: object = None
    reused: bool = False

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

    def _weighted(self, stats, value, module=None):
        """Sum ``value(cell_type, n)`` over leaf cells of ``module``'s hierarchy."""
        total = 0.0
        for name, times in self.instance_counts(module).items():
            for cell, n in stats[name].cells.items():
                if cell not in self.generic:
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
        return all(cell in CMOS_PRICED or cell in self.generic or _is_sram(cell)
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
        module holding nothing but one submodule instance (the array's ``pe_k_j`` around the
        shared PE module) is looked through, so its content is listed with the summed count.
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

def _stamp(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _prepare(workdir, rtl, options):
    """Write the inputs of one Yosys run; returns the script text."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(rtl)
    (workdir / ys.SRAM_LIB_FILE).write_text(ys.SRAM_LIB)
    (workdir / ys.SRAM_MAP_FILE).write_text(ys.SRAM_MAP)
    library = options.liberty
    if library is not None:
        shutil.copyfile(library.path, workdir / ys.LIBERTY_FILE)
        (workdir / ys.CONSTR_FILE).write_text(
            ys.abc_constraints(library.strongest_buffer().name, options.output_load_pf))


def synthesize(name, module, description, rtl, workdir, options, *, yosys_version,
               log=print):
    """Run Yosys on one block and read its statistics.

    Parameters
    ----------
    name, module, description : str
        Block name, top module, description.
    rtl : str
        Generated Verilog (all modules the top needs).
    workdir : Path
        The block's work directory (created).
    options : Options
    yosys_version : str
        Part of the reuse stamp.

    Returns
    -------
    BlockResult
    """
    classes = {}
    if not options.full:
        rtl, classes = nl.dedupe_modules(rtl)
    _prepare(workdir, rtl, options)
    library = options.liberty
    script = ys.synthesis_script(design="design.v", top=module, prefix=PREFIX,
                                 flatten=options.full, liberty=library is not None,
                                 period_ps=round(options.period_ns * 1000))
    (workdir / "synth.ys").write_text(script)
    stamp = _stamp(rtl, script, yosys_version, ys.SRAM_LIB, ys.SRAM_MAP,
                   (workdir / ys.CONSTR_FILE).read_text() if library else "",
                   library.path.read_bytes() if library else b"")
    what = (f"{name} ({'flat' if options.full else 'hierarchical'}"
            f"{', ' + library.name if library else ', generic only'})")
    seconds, reused = _run_yosys_unless_current(workdir, stamp, what, log)
    result = _read_results(name, module, description, classes, workdir, library, seconds)
    result.reused = reused
    return result


def _run_yosys_unless_current(workdir, stamp, what, log):
    """Run ``synth.ys`` unless ``<prefix>.stamp`` matches.

    Returns
    -------
    seconds : float
        Yosys wall-clock time (of the original run when reused).
    reused : bool
    """
    stamp_path = workdir / f"{PREFIX}.stamp"
    seconds_path = workdir / f"{PREFIX}.seconds"
    if stamp_path.exists() and stamp_path.read_text() == stamp and seconds_path.exists():
        log(f"  yosys {what}: inputs unchanged, reusing {workdir}")
        return float(seconds_path.read_text()), True
    stamp_path.unlink(missing_ok=True)
    log(f"  yosys {what} ...")
    seconds = run([*yosys_command(), "-q", "-l", "yosys.log", "synth.ys"], cwd=workdir,
                  log="yosys.out", what=f"Yosys on {what}")
    seconds_path.write_text(f"{seconds:.1f}\n")
    stamp_path.write_text(stamp)
    return seconds, False


def _read_results(name, module, description, classes, workdir, library, seconds):
    def stats(kind):
        return ys.read_stat_json((workdir / f"{PREFIX}.{kind}.json").read_text())
    generic = stats("generic")
    if module not in generic:
        raise ValueError(f"{name}: top module {module} missing from Yosys statistics")
    return BlockResult(
        name, module, description, classes, generic, stats("cmos"),
        stats("mapped") if library else None,
        ys.read_memories((workdir / f"{PREFIX}.memories.il").read_text()),
        seconds, workdir, library)


def time_block(result, options, *, clock_port="clk", log=print):
    """Run OpenSTA on a synthesized block; stores and returns a :class:`sta.TimingResult`."""
    command = sta_command()
    if command is None:
        raise ToolError("OpenSTA (sta) not found: install Debian's opensta (make setup as "
                        "root)")
    library, workdir = options.liberty, result.workdir
    text = (workdir / f"{PREFIX}.mapped.v").read_text()
    text, srams = sta.remove_instances(text, ys.SRAM_CELL)
    text, buffering = nl.buffer_high_fanout(text, library, max_fanout=options.max_fanout)
    (workdir / sta.STA_NETLIST).write_text(text)
    buffer_cell = library.strongest_buffer().name
    (workdir / sta.STA_SCRIPT).write_text(sta.sta_script(
        netlist=sta.STA_NETLIST, liberty=ys.LIBERTY_FILE, top=result.module,
        period_ns=options.period_ns, clock_port=clock_port, buffer_cell=buffer_cell,
        output_load_pf=options.output_load_pf))
    log(f"  sta {result.name} ...")
    started = time.perf_counter()
    run([*command, "-exit", sta.STA_SCRIPT], cwd=workdir, log=sta.STA_LOG,
        what=f"OpenSTA on {result.name}")
    slack, start, end, stages = sta.read_sta_log((workdir / sta.STA_LOG).read_text())
    result.timing = sta.TimingResult(options.period_ns, slack, start, end, stages, buffering,
                                     srams, time.perf_counter() - started)
    return result.timing
