"""The power flow of one configuration: synthesis, recorded activity, OpenSTA per block.

1. ``synth timing`` maps the FocusEngine and the SEC top (every module once, reused when
   unchanged) and prepares the linked netlist OpenSTA reads (``blocks/<block>/sta_netlist.v``).
2. Simulations record SAIF activity (:mod:`power.stimulus`): the engine on a dense and on a
   concentrated (video) workload, the SEC top on one layer.
3. For every block instance (the engine's array, scatter accumulator, output converter, tile
   buffer and gather, the SEC's analyzer, sorter and encoder, and each top as a whole) OpenSTA
   links that block's module, annotates the activity of its registers and input ports
   (:mod:`power.activity`) and reports internal, switching and leakage power, once with the
   recorded activity and once with OpenSTA's default activity.
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
from synth.tools import ToolError, sta_command

from .activity import annotate
from .netlist import plain_name, prepare
from .saif import read_saif
from .sta import power_script, run_power
from .stimulus import default_geometry, engine_run, sec_run

__all__ = ["Options", "BlockPower", "RunPower", "synthesize", "block_instances", "measure"]

NETLIST = "power_netlist.v"
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


@dataclasses.dataclass(frozen=True)
class RunPower:
    """A simulated run and its blocks' power."""

    simulation: object
    cycles: int
    period_ns: float
    blocks: list

    def energy_pj(self, block_power):
        """Energy of ``block_power`` (a :class:`BlockPower`) over the run, in pJ."""
        return block_power.annotated.total * self.cycles * self.period_ns * 1e3


def synthesize(options):
    """``{block name: synth BlockResult}`` of the engine and the SEC top (timing flow)."""
    argv = ["timing", "--config", options.config_name, "--blocks",
            "focus_engine,semantic_concentrator", "--no-reference",
            "--out", str(options.out / "synth"), "--jobs", str(options.jobs),
            "--period", str(options.period_ns)]
    for override in options.overrides:
        argv += ["--set", override]
    report = run_flow(synth_parser().parse_args(argv))
    return {block.name: block for block in report.blocks}


def block_instances(prepared, top):
    """``[(label, instance, module)]``: the top itself and each module instance directly
    below it."""
    children = sorted({(plain_name(c.instance), c.cell)
                       for c in prepared.modules[top].connections if c.cell in prepared.modules})
    return [("total", "", top)] + [(instance, instance, module) for instance, module in children]


def _block_power(command, workdir, prepared, library, saif, scope, cycles, label, instance,
                 module, period_ns, default_cache):
    inner = tuple(scope) + ((instance,) if instance else ())
    activity, coverage, missing = annotate(prepared, module, library, saif, inner, cycles)
    run_dir = workdir / (label.replace("/", "_"))
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in (NETLIST, LIBERTY):
        target = run_dir / name
        if not target.exists():
            target.symlink_to((workdir / name).resolve())
    annotated, sources, usage = run_power(
        command, run_dir, power_script(liberty=LIBERTY, netlist=NETLIST, top=module,
                                       period_ns=period_ns, activity=activity),
        f"OpenSTA power of {label}")
    default = default_cache.get(module)
    if default is None:
        default_dir = run_dir / "default"
        default_dir.mkdir(exist_ok=True)
        for name in (NETLIST, LIBERTY):
            target = default_dir / name
            if not target.exists():
                target.symlink_to((workdir / name).resolve())
        default, _, _ = run_power(
            command, default_dir, power_script(liberty=LIBERTY, netlist=NETLIST, top=module,
                                               period_ns=period_ns, activity=None),
            f"OpenSTA default-activity power of {label}")
        default_cache[module] = default
    return BlockPower(label, instance, module, annotated, default, sources, coverage,
                      tuple(missing), usage.seconds)


def measure(simulation, synth_block, workdir, *, period_ns, jobs, log=print):
    """OpenSTA power of every block of ``synth_block`` (a synth ``BlockResult``) under the
    activity of ``simulation``; returns a :class:`RunPower`."""
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
    blocks, defaults = [], {}
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = [pool.submit(_block_power, command, workdir, prepared, library, saif,
                               simulation.scope, cycles, label, instance, module, period_ns,
                               defaults)
                   for label, instance, module in block_instances(prepared, top)]
        for future in futures:
            blocks.append(future.result())
            b = blocks[-1]
            log(f"  {simulation.name} {b.block:14s} {b.annotated.total * 1e3:10.3f} mW "
                f"(default activity {b.default.total * 1e3:10.3f} mW), registers annotated "
                f"{b.coverage.registers[0]}/{b.coverage.registers[1]}, OpenSTA "
                f"{b.seconds:.1f} s")
    return RunPower(simulation, cycles, period_ns, blocks)


def simulate(options, config):
    """The recorded runs of ``config``: ``{name: Simulation}``."""
    geometry = options.geometry or default_geometry(options.config_name)
    sim_dir = options.out / "sim"
    runs = {}
    for workload in ("dense", "video"):
        runs[f"engine-{workload}"] = engine_run(config, workload, sim_dir / f"engine-{workload}",
                                                geometry=geometry, slices=options.slices,
                                                tiles=options.tiles)
    tokens = options.sec_tokens or min(config.max_tokens, 1024)
    keep = max(1, round(tokens * options.sec_keep))
    runs["sec"] = sec_run(config, sim_dir / "sec", tokens=tokens, keep=keep)
    return runs
