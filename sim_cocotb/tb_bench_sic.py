"""cocotb measurement of the SIC gather unit's cycle counts (driven by ``bench_sic``).

Parameters: those of ``tb_sic`` plus ``geometry``, ``keep`` (list of kept fractions),
``result`` (JSON file to write). Every run is also checked bit for bit against the golden
model, so the measured cycles belong to correct outputs.
"""

import json

import cocotb
import numpy as np

from sim_cocotb import tb_sic_cases as cases
from sim_cocotb.runner import tb_params
from sim_cocotb.tb_sic import SicTB


def tile_timing(accepted, tiles):
    """Per tile: keys, the cycle its first key was accepted, and the key-to-key intervals."""
    timing, start = [], 0
    for tile in tiles:
        count = len(tile.map)
        times = accepted[start:start + count]
        timing.append({"keys": count, "first": times[0],
                       "intervals": np.diff(times).tolist()})
        start += count
    return timing


@cocotb.test()
async def gather_cycles(dut):
    params, _ = tb_params()
    tb = SicTB(dut, 100)
    await tb.reset()
    results = []
    for keep in params["keep"]:
        case = cases.realistic(np.random.default_rng(7), arith=tb.arith, vector_size=tb.size,
                               geometry=params["geometry"], slots=1, keep=keep, seed=0,
                               m_tile=tb.m_tile)
        run = await tb.run(case)
        timing = tile_timing(run["accepted"], run["tiles"])
        last_output = max(run["map_cycles"][-1], run["unique_cycles"][-1] if
                          run["unique_cycles"] else 0)
        within = [i for t in timing for i in t["intervals"]]
        full = [b["first"] - a["first"] for a, b in zip(timing, timing[1:])]
        results.append({
            "keep": keep,
            "keys": int(sum(t["keys"] for t in timing)),
            "tiles": len(timing),
            "groups": int(sum(len(tile.unique) for tile in run["tiles"])),
            "cycles": int(last_output + 1),
            "key_interval_min": int(min(within)),
            "key_interval_median": float(np.median(within)),
            "tile_periods": [int(p) for p in full],
            "tile_keys": [t["keys"] for t in timing],
        })
        dut._log.info("keep %.2f: %s", keep, {k: v for k, v in results[-1].items()
                                               if k != "tile_periods"})
    with open(params["result"], "w") as out:
        json.dump(results, out)
