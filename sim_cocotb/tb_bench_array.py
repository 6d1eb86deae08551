"""cocotb measurement of the systolic array's cycle counts (driven by ``bench_array``).

Parameters: ``dtype``, ``rows``, ``cols``, ``lengths`` (fold lengths p), ``folds`` (folds
per back-to-back run), ``result`` (JSON file to write).
"""

import json

import cocotb

from sim_cocotb.runner import tb_params
from sim_cocotb.tb_array import ArrayTB


async def measure(tb, tiles, folds):
    """Cycles from the first input beat to the last output beat, and per-fold output starts."""
    await tb.reset()
    sink_task = tb.flow(0.0, 0.0)
    weight_task = cocotb.start_soon(tb.weights.send(tb.weight_beats(tiles)))
    await tb.acts.send(tb.act_beats(folds))
    await weight_task
    total = sum(len(f) for f in folds)
    await tb.sink.wait_for(total, timeout_cycles=10 * total + 100 * tb.rows)
    sink_task.cancel()
    from golden.systolic_array import systolic_array
    tb.check(folds, systolic_array(tb.arith, tiles, folds))
    starts, index = [], 0
    for f in folds:
        starts.append(tb.sink.cycles[index])
        index += len(f)
    return {"cycles": tb.sink.cycles[-1] + 1, "fold_output_starts": starts}


@cocotb.test()
async def array_cycles(dut):
    params, _ = tb_params()
    tb = ArrayTB(dut, 100)
    results = []
    for p in params["lengths"]:
        single = await measure(tb, tb.random_tiles(1), tb.random_folds([p]))
        n = params["folds"]
        chained = await measure(tb, tb.random_tiles(n), tb.random_folds([p] * n))
        starts = chained["fold_output_starts"]
        results.append({
            "p": p,
            "single_fold_cycles": single["cycles"],
            "back_to_back_folds": n,
            "back_to_back_cycles": chained["cycles"],
            "fold_period": [b - a for a, b in zip(starts, starts[1:])],
        })
        dut._log.info("p=%d: %s", p, results[-1])
    with open(params["result"], "w") as out:
        json.dump({"latency": None, "results": results}, out)
