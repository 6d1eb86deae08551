"""Simulations that record switching activity (SAIF) on realistic stimulus.

* The FocusEngine runs the engine benchmark's testbench (``sim_cocotb.tb_bench_engine``) on
  one workload at a time: ``dense`` (the uncompressed baseline) or ``video`` (video-like tokens
  from ``golden.workloads``, pruned and concentrated by the tensor-level model), every output
  checked against the golden model.
* The SEC top runs ``sim_cocotb.tb_power_sec`` on the attention probabilities of one layer
  of ``M`` tokens keeping ``k``, the codes checked against the golden model.

Builds are flat (no Verilator hier blocks): Verilator does not trace inside a hier block.
"""

import dataclasses
import json
import time
from pathlib import Path

from gen.generate import block_design
from sim_cocotb.runner import run_testbench

__all__ = ["Simulation", "engine_run", "sec_run", "default_geometry"]

#: Token geometry of the engine's stimulus per named configuration (others: LLaVA-Video).
GEOMETRY = {"tiny": "tiny", "small": "small"}


def default_geometry(config_name):
    return GEOMETRY.get(config_name, "llava-video")


@dataclasses.dataclass(frozen=True)
class Simulation:
    """One recorded run: ``saif`` (path), ``scope`` (SAIF instance path of the block's top),
    ``result`` (the benchmark's JSON record), ``seconds`` (build + simulation)."""

    name: str
    saif: Path
    scope: tuple
    result: dict
    seconds: float


def engine_run(config, workload, out_dir, *, geometry, slices, tiles, seed=1):
    """Run ``tiles`` output tiles of ``workload`` (``"dense"`` or ``"video"``) through the
    FocusEngine of ``config``."""
    if workload not in ("dense", "video"):
        raise ValueError(f"engine workload must be dense or video, got {workload!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = block_design(config, "focus_engine")
    result_file = out_dir / "result.json"
    started = time.perf_counter()
    run_testbench(engine, "sim_cocotb.tb_bench_engine",
                  params={"dtype": config.dtype, "rows": config.rows, "cols": config.cols,
                          "m_tile": config.m_tile, "lanes": config.scatter_lanes,
                          "slices": slices, "tiles": tiles, "geometry": geometry,
                          "window": list(config.window), "workloads": [workload],
                          "result": str(result_file)},
                  seed=seed, test_dir=out_dir, hierarchical="none", waves="saif")
    (result,) = json.loads(result_file.read_text())
    return Simulation(f"engine-{workload}", out_dir / "dump.saif", (engine.top,), result,
                      time.perf_counter() - started)


def sec_run(config, out_dir, *, tokens, keep, rows=4, seed=1):
    """Concentrate one layer of ``tokens`` keys keeping ``keep`` in the generated SEC top of
    ``config`` (``sim_cocotb.tb_power_sec``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sec = block_design(config, "semantic_concentrator")
    result_file = out_dir / "result.json"
    started = time.perf_counter()
    run_testbench(sec, "sim_cocotb.tb_power_sec",
                  params={"dtype": config.dtype, "sort_width": config.sort_width,
                          "max_tokens": config.max_tokens, "offset_bits": config.offset_bits,
                          "tokens": tokens, "keep": keep, "rows": rows,
                          "result": str(result_file)},
                  seed=seed, test_dir=out_dir, hierarchical="none", waves="saif")
    return Simulation("sec", out_dir / "dump.saif", (sec.top,), json.loads(result_file.read_text()),
                      time.perf_counter() - started)
