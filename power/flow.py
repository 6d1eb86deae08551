"""The power flow of one configuration: synthesis, recorded activity, OpenSTA per block.

1. ``synth timing`` maps the FocusEngine and the SEC top (every module once, reused when
   unchanged) and prepares the linked netlist OpenSTA reads (``blocks/<block>/sta_netlist.v``).
2. Simulations record SAIF activity (:mod:`power.stimulus`): the engine on a dense and on a
   concentrated (video) workload, the SEC top on one layer.
3. OpenSTA links the whole hierarchy of each top, annotates the recorded activity of every
   register and input port (:mod:`power.activity`) and reports the internal, switching and
   leakage power of every cell, summed per block instance below the top (the engine's array,
   scatter accumulator, output converter, tile buffer and gather; the SEC's analyzer, sorter
   and encoder; the top's own cells as ``glue``), once with the recorded activity and once
   with OpenSTA's default activity.
4. Energy of a block in a run = power x the run's clock cycles x the clock period; energy per
   operation = that energy / the operations the run performed (MACs, scatter additions, keys
   gathered, SEC tokens).
"""

import concurrent.futures
import dataclasses
import shutil
from pathlib import Path

from synth.cli import parser as synth_parser
from synth.cli import run_flow
from synth.liberty import read_liberty
from synth.tools import ToolError, Usage, sta_command

from .activity import Coverage, annotate, nearest_pe
from .netlist import plain_name, prepare
from .saif import read_saif
from .sta import Power, power_script, run_power
from .stimulus import default_geometry, engine_run, sec_run

__all__ = ["Options", "BlockPower", "RunPower", "synthesize", "measure", "simulate"]

NETLIST = "power_netlist.v"
_NO_USAGE = Usage(0.0, 0.0)
LIBERTY = "cells.lib"


@dataclasses.dataclass(frozen=True)
class Options:
    """Settings of ``python -m power``."""

    config_name: str
    overrides: tuple = ()
    out: Path = Path("build/power")
    period_ns: float = 5.0
    jobs: int = 2
    slices: int = 4
    tiles: int = 2
    geometry: str = None
    sec_tokens: int = None
    sec_keep: float = 0.4
    pe_columns: tuple = None    # None: automatic (:func:`traced_columns`); (): every PE
    zeros: bool = False         # also run the dense workload with all-zero activations
    synth_dir: Path = None      # the synthesis work directory (default <out>/synth)
    sec: bool = True            # run the SEC top

#: Arrays with more PEs than this trace sampled columns only (a flat build of the paper's
#: 32x32 fp16 array did not verilate in 15 minutes and 7 GB).
FULL_TRACE_PES = 256


def traced_columns(options, config):
    """The array columns whose PEs are traced, or ``None`` for every PE."""
    if options.pe_columns is not None:
        return tuple(options.pe_columns) or None
    if config.rows * config.cols <= FULL_TRACE_PES:
        return None
    return (0, config.cols // 2)


@dataclasses.dataclass(frozen=True)
class BlockPower:
    """One block in one run: powers in W with recorded and default activity, and the
    annotation coverage."""

    block: str
    instance: str
    module: str
    annotated: object       # sta.Power
    default: object         # sta.Power
    sources: object         # sta.Power of the activity sources (already subtracted)
    coverage: object        # activity.Coverage
    missing: tuple
    seconds: float
    nan_cells: int = 0      # cells whose power OpenSTA computed as NaN (left out)
    idle: object = None     # sta.Power with the recorded states but no toggles (clock, leakage)


@dataclasses.dataclass(frozen=True)
class RunPower:
    """A simulated run and its blocks' power."""

    simulation: object
    cycles: int
    period_ns: float
    blocks: list
    failed: tuple = ()      # blocks OpenSTA crashed on (not measured; the total leaves them out)

    def energy_pj(self, block_power):
        """Energy of ``block_power`` (a :class:`BlockPower`) over the run, in pJ."""
        return block_power.annotated.total * self.cycles * self.period_ns * 1e3

    def dynamic_pj(self, block_power):
        """The part of :meth:`energy_pj` above the block's idle power (what its operations
        add to a clock that runs anyway), in pJ."""
        return (block_power.annotated.total - block_power.idle.total) * self.cycles \
            * self.period_ns * 1e3


def synthesize(options):
    """``{block name: synth BlockResult}`` of the engine and the SEC top (timing flow)."""
    blocks = "focus_engine,semantic_concentrator" if options.sec else "focus_engine"
    argv = ["timing", "--config", options.config_name, "--blocks", blocks, "--no-reference",
            "--out", str(options.synth_dir or options.out / "synth"), "--jobs", str(options.jobs),
            "--period", str(options.period_ns)]
    for override in options.overrides:
        argv += ["--set", override]
    report = run_flow(synth_parser().parse_args(argv))
    return {block.name: block for block in report.blocks}


def _power_run(command, base, workdir, top, period_ns, activity, what):
    """One OpenSTA power run in ``workdir`` on the netlist and liberty of ``base``."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in (NETLIST, LIBERTY):
        target = workdir / name
        if not target.exists():
            target.symlink_to((base / name).resolve())
    return run_power(command, workdir, power_script(liberty=LIBERTY, netlist=NETLIST, top=top,
                                                    period_ns=period_ns, activity=activity),
                     what)


def measure(simulation, synth_block, workdir, *, period_ns, jobs, log=print):
    """OpenSTA power of every block of ``synth_block`` (a synth ``BlockResult``) under the
    activity of ``simulation``: one run on the whole linked hierarchy with the recorded
    activity and one with OpenSTA's default, each summed per instance below the top.
    Returns a :class:`RunPower` (blocks: ``total``, each child instance, ``glue`` for the
    top's own cells)."""
    command = sta_command()
    if command is None:
        raise ToolError("power needs OpenSTA (sta): install Debian's opensta (make setup as "
                        "root)")
    source_dir = Path(synth_block.workdir)
    library = read_liberty(source_dir / LIBERTY)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    prepared = prepare((source_dir / "sta_netlist.v").read_text(), library)
    (workdir / NETLIST).write_text(prepared.text)
    shutil.copyfile(source_dir / LIBERTY, workdir / LIBERTY)
    saif = read_saif(simulation.saif)
    cycles = saif.cycles(simulation.scope)
    top = synth_block.module
    substitute = nearest_pe(simulation.pe_columns) if simulation.pe_columns else None
    zero = Power(0.0, 0.0, 0.0)

    def run_top(module, scope, where):
        """Recorded, default and idle power of ``module`` (instance ``scope``) per group."""
        activity, coverage, missing = annotate(prepared, module, library, saif, scope, cycles,
                                               substitute)
        # idle: the recorded states (duties) with no toggles - what clock and leakage cost
        idle = dataclasses.replace(
            activity, pins={pin: (0.0, duty) for pin, (_, duty) in activity.pins.items()},
            ports={port: (0.0, duty) for port, (_, duty) in activity.ports.items()})
        with concurrent.futures.ThreadPoolExecutor(max(1, min(jobs, 3))) as pool:
            futures = [pool.submit(_power_run, command, workdir, where / kind, module, period_ns,
                                   act,
                                   f"OpenSTA {kind} power of {module} in {simulation.name}")
                       for kind, act in (("recorded", activity), ("default", None),
                                         ("idle", idle))]
            results = [future.result() for future in futures]
        (groups, nan, usage), (default_groups, _, _), (idle_groups, _, _) = results
        sources = groups.pop("@sources", zero)
        default_groups.pop("@sources", None)
        idle_groups.pop("@sources", None)
        return groups, default_groups, idle_groups, nan, usage, coverage, missing, sources

    failed = []
    try:
        groups, default_groups, idle_groups, nan, usage, coverage, missing, sources = \
            run_top(top, simulation.scope, workdir)
    except ToolError as error:
        if "exit -11" not in str(error):
            raise
        # OpenSTA 2.0.17 crashes on some netlists (docs/power.md): measure each block below
        # the top on its own, with its input ports annotated from the simulation
        log(f"  {simulation.name}: OpenSTA crashed on {top}; measuring its blocks one by one")
        groups, default_groups, idle_groups, nan, seconds = {}, {}, {}, 0, 0.0
        coverage_groups, missing, sources = {}, [], zero
        children = sorted({(plain_name(c.instance), c.cell)
                           for c in prepared.modules[top].connections
                           if c.cell in prepared.modules})
        for instance, module in children:
            try:
                g, d, i, n, u, cov, miss, src = run_top(
                    module, tuple(simulation.scope) + (instance,), workdir / instance)
            except ToolError as child_error:
                if "exit -11" not in str(child_error):
                    raise
                failed.append(instance)
                log(f"  {simulation.name} {instance}: OpenSTA crashed, not measured")
                continue
            groups[instance] = sum(g.values(), zero)
            default_groups[instance] = sum(d.values(), zero)
            idle_groups[instance] = sum(i.values(), zero)
            nan, seconds, sources = nan + n, seconds + u.seconds, sources + src
            coverage_groups[instance] = (cov.registers[0], cov.registers[1], cov.sampled)
            missing += [f"{instance}/{m}" for m in miss]
        found = sum(c[0] for c in coverage_groups.values())
        total = sum(c[1] for c in coverage_groups.values())
        coverage = Coverage((found, total), (0, 0), (0, 0),
                            sum(c[2] for c in coverage_groups.values()), coverage_groups)
        usage = dataclasses.replace(_NO_USAGE, seconds=seconds)
    names = sorted(set(groups) | set(default_groups))
    blocks = [BlockPower("total", "", top, sum((groups[n] for n in groups), zero),
                         sum((default_groups[n] for n in default_groups), zero), sources,
                         coverage, tuple(missing), usage.seconds, nan,
                         sum((idle_groups[n] for n in idle_groups), zero))]
    for name in names:
        counts = coverage.groups.get(name, (0, 0, 0))
        blocks.append(BlockPower(name or "glue", name, "", groups.get(name, zero),
                                 default_groups.get(name, zero), zero,
                                 Coverage((counts[0], counts[1]), (0, 0), (0, 0), counts[2]),
                                 tuple(m for m in missing if m.split("/")[0] == name),
                                 0.0, 0, idle_groups.get(name, zero)))
    for b in blocks:
        sampled = f" ({b.coverage.sampled} from sampled PEs)" if b.coverage.sampled else ""
        log(f"  {simulation.name} {b.block:14s} {b.annotated.total * 1e3:10.3f} mW "
            f"(idle {b.idle.total * 1e3:9.3f} mW, default activity "
            f"{b.default.total * 1e3:9.3f} mW), registers annotated "
            f"{b.coverage.registers[0]}/{b.coverage.registers[1]}{sampled}")
    log(f"  {simulation.name}: OpenSTA {usage.seconds:.0f} s, {nan} cell(s) with NaN power "
        f"left out, activity sources {sources.total * 1e3:.3f} mW subtracted"
        + (f"; NOT MEASURED (OpenSTA crashed): {', '.join(failed)}" if failed else ""))
    return RunPower(simulation, cycles, period_ns, blocks, tuple(failed))


def simulate(options, config):
    """The recorded runs of ``config``: ``{name: Simulation}``."""
    geometry = options.geometry or default_geometry(options.config_name)
    sim_dir = options.out / "sim"
    runs = {}
    columns = traced_columns(options, config)
    for workload in ("dense", "video") + (("zeros",) if options.zeros else ()):
        runs[f"engine-{workload}"] = engine_run(config, workload, sim_dir / f"engine-{workload}",
                                                geometry=geometry, slices=options.slices,
                                                tiles=options.tiles, pe_columns=columns)
    if options.sec:
        tokens = options.sec_tokens or min(config.max_tokens, 1024)
        keep = max(1, round(tokens * options.sec_keep))
        runs["sec"] = sec_run(config, sim_dir / "sec", tokens=tokens, keep=keep)
    return runs
