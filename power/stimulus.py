"""Simulations that record switching activity (SAIF) on realistic stimulus.

* The FocusEngine runs the engine benchmark's testbench (``sim_cocotb.tb_bench_engine``) on
  one workload at a time: ``dense`` (the uncompressed baseline) or ``video`` (video-like tokens
  from ``golden.workloads``, pruned and concentrated by the tensor-level model), every output
  checked against the golden model.
* The SEC top runs ``sim_cocotb.tb_power_sec`` on the attention probabilities of one layer
  of ``M`` tokens keeping ``k``, the codes checked against the golden model.

Verilator does not trace inside a hier block, so the builds are flat, except for a large
array: there the processing element stays a hier block (a flat 32x32 fp16 array does not
verilate in 15 minutes and 7 GB) and the PEs of a few *sampled columns* are instances of a
renamed copy of the PE module, inlined and traced (:func:`sample_pe_columns`). The power flow
gives every other PE the activity of the sampled PE in its row (:mod:`power.activity`).
"""

import dataclasses
import hashlib
import importlib.util
import json
import re
import time
from pathlib import Path

from gen.generate import block_design
from sim_cocotb.runner import run_testbench

__all__ = ["Simulation", "engine_run", "sec_run", "default_geometry", "sample_pe_columns",
           "TRACED_SUFFIX"]

TRACED_SUFFIX = "_traced"
#: Workloads of :func:`engine_run`: dense baseline, concentrated video tokens, and the dense
#: run with all-zero activations (a sanity check of the power flow).
ENGINE_WORKLOADS = ("dense", "video", "zeros")
_PE_INSTANCE_RE = re.compile(r"^(\s*)(\S+)(\s+pe_(\d+)_(\d+)\s*\()", re.M)

#: Token geometry of the engine's stimulus per named configuration (others: LLaVA-Video).
GEOMETRY = {"tiny": "tiny", "small": "small"}


def default_geometry(config_name):
    return GEOMETRY.get(config_name, "llava-video")


@dataclasses.dataclass(frozen=True)
class Simulation:
    """One recorded run: ``saif`` (path), ``scope`` (SAIF instance path of the block's top),
    ``result`` (the benchmark's JSON record), ``seconds`` (build + simulation),
    ``pe_columns`` (the traced array columns; ``None``: all)."""

    name: str
    saif: Path
    scope: tuple
    result: dict
    seconds: float
    pe_columns: tuple = None


STAMP = "power-sim.stamp"


def _record(design, test_module, params, *, seed, out_dir, hierarchical):
    """Run ``test_module`` on ``design`` with SAIF tracing into ``out_dir``, unless the same
    run (design files, testbench source, parameters, seed, build) is already recorded there.
    Returns ``(result record, seconds)``."""
    source = Path(importlib.util.find_spec(test_module).origin).read_bytes()
    recipe = json.dumps([sorted(design.files.items()), test_module, source.hex(),
                         params, seed, hierarchical], sort_keys=True)
    stamp = hashlib.sha256(recipe.encode()).hexdigest()
    result_file, stamp_file = out_dir / "result.json", out_dir / STAMP
    if stamp_file.exists() and (out_dir / "dump.saif").exists() and result_file.exists():
        stored = json.loads(stamp_file.read_text())
        if stored["stamp"] == stamp:
            return json.loads(result_file.read_text()), stored["seconds"]
    started = time.perf_counter()
    run_testbench(design, test_module, params={**params, "result": str(result_file)},
                  seed=seed, test_dir=out_dir, hierarchical=hierarchical, waves="saif")
    seconds = time.perf_counter() - started
    stamp_file.write_text(json.dumps({"stamp": stamp, "seconds": seconds}))
    return json.loads(result_file.read_text()), seconds


def sample_pe_columns(design, columns):
    """``(design, hier blocks)``: ``design`` (a :class:`gen.generate.Design`) with the
    processing elements of array ``columns`` instantiated as a renamed copy of the PE module
    (traced), and the hier blocks of the build (the PE module)."""
    array_files = [name for name, text in design.files.items() if _PE_INSTANCE_RE.search(text)]
    if len(array_files) != 1:
        raise ValueError(f"{design.top}: expected one module instantiating pe_<r>_<c>, found "
                         f"{len(array_files)}")
    (array_file,) = array_files
    modules = {m.group(2) for m in _PE_INSTANCE_RE.finditer(design.files[array_file])}
    if len(modules) != 1:
        raise ValueError(f"{array_file}: processing elements of several modules {modules}")
    (pe,) = modules
    cols = 1 + max(int(m.group(5)) for m in _PE_INSTANCE_RE.finditer(design.files[array_file]))
    bad = [c for c in columns if not 0 <= c < cols]
    if bad or not columns:
        raise ValueError(f"sampled PE columns must be a non-empty subset of 0..{cols - 1}, "
                         f"got {list(columns)}")
    traced = pe + TRACED_SUFFIX

    def rename(match):
        if int(match.group(5)) in columns:
            return match.group(1) + traced + match.group(3)
        return match.group(0)

    files = {}
    for name, text in design.files.items():
        if name == f"{pe}.v":
            files[name] = text
            files[f"{traced}.v"] = text.replace(pe, traced)
        elif name == array_file:
            files[name] = _PE_INSTANCE_RE.sub(rename, text)
        else:
            files[name] = text
    rows = sum(1 for m in _PE_INSTANCE_RE.finditer(design.files[array_file])) // cols
    instances = dict(design.instances)
    instances[traced] = rows * len(columns)
    instances[pe] -= rows * len(columns)
    return dataclasses.replace(design, files=files, instances=instances), [pe]


def engine_run(config, workload, out_dir, *, geometry, slices, tiles, seed=1,
               pe_columns=None):
    """Run ``tiles`` output tiles of ``workload`` (of :data:`ENGINE_WORKLOADS`) through the
    FocusEngine of ``config``; ``pe_columns``: trace only the PEs of these array columns
    (:func:`sample_pe_columns`), ``None``: a flat build, everything traced."""
    if workload not in ENGINE_WORKLOADS:
        raise ValueError(f"engine workload must be one of {', '.join(ENGINE_WORKLOADS)}, got "
                         f"{workload!r}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = block_design(config, "focus_engine")
    hierarchical = "none"
    if pe_columns is not None:
        engine, hierarchical = sample_pe_columns(engine, list(pe_columns))
    (result,), seconds = _record(
        engine, "sim_cocotb.tb_bench_engine",
        {"dtype": config.dtype, "rows": config.rows, "cols": config.cols,
         "m_tile": config.m_tile, "lanes": config.scatter_lanes, "slices": slices,
         "tiles": tiles, "geometry": geometry, "window": list(config.window),
         "workloads": [workload]},
        seed=seed, out_dir=out_dir, hierarchical=hierarchical)
    return Simulation(f"engine-{workload}", out_dir / "dump.saif", (engine.top,), result,
                      seconds, None if pe_columns is None else tuple(pe_columns))


def sec_run(config, out_dir, *, tokens, keep, rows=4, seed=1):
    """Concentrate one layer of ``tokens`` keys keeping ``keep`` in the generated SEC top of
    ``config`` (``sim_cocotb.tb_power_sec``)."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    sec = block_design(config, "semantic_concentrator")
    result, seconds = _record(
        sec, "sim_cocotb.tb_power_sec",
        {"dtype": config.dtype, "sort_width": config.sort_width,
         "max_tokens": config.max_tokens, "offset_bits": config.offset_bits,
         "tokens": tokens, "keep": keep, "rows": rows},
        seed=seed, out_dir=out_dir, hierarchical="none")
    return Simulation("sec", out_dir / "dump.saif", (sec.top,), result, seconds)
