"""cocotb cycle measurement of the FocusEngine (driven by ``bench_engine``).

Parameters: as ``tb_engine`` plus ``tiles`` (output tiles per run, streamed back to back),
``result`` (JSON file to write) and optionally ``workloads`` (names of the workloads to run,
of ``dense``, ``video``, ``all similar``, ``zeros``; default the first three). ``zeros`` is
the dense run with every activation zero (a power check: least switching).
"""

import json

import cocotb
import numpy as np

from golden.algorithm import ZERO
from sim_cocotb.runner import tb_params
from sim_cocotb.tb_engine import EngineTB


def all_similar(workload, rows):
    """Every token of every slice maps to one unique vector (the first token's)."""
    uniques = [workload.merged[:1, k * rows:(k + 1) * rows] for k in range(len(workload.maps))]
    return uniques, [np.zeros(workload.tokens, dtype=np.int64)] * len(workload.maps)


@cocotb.test()
async def engine_cycles(dut):
    params, _ = tb_params()
    tb = EngineTB(dut, 100)
    w = tb.workload
    cases = [("dense", True, None, None),
             (f"video ({params.get('geometry', 'tiny')})", False, w.uniques, w.maps),
             ("all similar", False, *all_similar(w, tb.rows))]
    wanted = params.get("workloads")
    if wanted is None:
        wanted = ["dense", "video", "all similar"]
    zeros = [np.zeros((w.tokens, tb.rows), dtype=np.int64)] * tb.slices
    cases.append(("zeros", True, zeros, [np.arange(w.tokens)] * tb.slices))
    cases = [case for case in cases if case[0].split(" (")[0] in wanted]
    results = []
    for name, dense, uniques, maps in cases:
        await tb.reset()
        tiles = [tb.tile(dense=dense, uniques=uniques, maps=maps)
                 for _ in range(params["tiles"])]
        await tb.run_tiles(tiles, dense=dense)
        used = tiles[0]
        last = max(tb.sink.cycles[-1] if tb.sink.cycles else 0,
                   tb.map_sink.cycles[-1] if tb.map_sink.cycles else 0)
        results.append({
            "workload": name,
            "dense": dense,
            "tokens": w.tokens,
            "slices": tb.slices,
            "tiles": len(tiles),
            "unique_vectors": [len(u) for u in used.uniques],
            "zero_entries": int(sum(np.count_nonzero(m == ZERO) for m in used.maps)),
            "output_vectors": len(tb.sink.beats),
            "cycles": last + 1,
            "array_vectors": int(dut.array_vectors.value),
            "array_stall_cycles": int(dut.array_stall_cycles.value),
            "scatter_busy_cycles": int(dut.scatter_busy_cycles.value),
        })
        dut._log.info("%s", results[-1])
    with open(params["result"], "w") as out:
        json.dump(results, out)
