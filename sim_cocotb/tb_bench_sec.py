"""cocotb measurement of the SEC top's cycle counts (driven by ``sim_cocotb.bench_sec``).

Parameters: the harness configuration plus ``cases`` (``[[M, k], ...]``), ``rows`` (text
rows x heads per layer) and ``result`` (JSON file to write). Long sorting phases are waited
for event by event (no Python per cycle), so paper-sized layers simulate quickly.
"""

import json

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from golden import sec as G
from golden.algorithm import decode_offsets
from sim_cocotb.runner import tb_params
from sim_cocotb.tb_sec import SecTB, split_layers, unpack_struct


async def first_fire(dut, signal):
    """Cycle number of the next cycle in which ``signal`` (low now) goes high."""
    await RisingEdge(signal)
    await ReadOnly()
    return int(dut.cycle.value)


@cocotb.test()
async def sec_cycles(dut):
    params, _ = tb_params()
    tb = SecTB(dut, 100)
    await tb.reset()
    results = []
    for count, k in params["cases"]:
        raw = tb.random_probs(params["rows"], count, "random")
        beats = G.probability_beats(raw, tb.a, rng=tb.rng)
        model = G.semantic_concentrator(tb.arith, beats, k, **tb.sec, offset_bits=tb.bits)
        await ClockCycles(dut.clk, G.clear_cycles(tb.n, tb.a) + 4)   # buffer clear
        dut.k.value = k
        dut.codes__ready.value = 0    # no codes before the first index: no Python per cycle
        probs = tb.source("probs")
        start = int(dut.cycle.value)
        await probs.send(tb.probs_beats(beats))
        accept_cycles = int(dut.cycle.value) - start
        first_importance = await first_fire(dut, dut.imp_tap_fire)
        first_index = await first_fire(dut, dut.sel_tap_fire)
        await RisingEdge(dut.clk)
        sink, sink_task = tb.sink("codes")
        sink_start = int(dut.cycle.value)
        await sink.wait_for(len(model.codes), timeout_cycles=4 * (count + len(model.codes)))
        await ClockCycles(dut.clk, 2)
        sink_task.cancel()
        codes = split_layers([unpack_struct(tb.code_layout, w) for w in sink.beats], "code")
        assert codes == [[c for c, _ in model.codes]], "codes differ from the model"
        assert np.array_equal(decode_offsets(np.array(codes[0]), tb.bits), model.selected)
        last_code = sink_start + sink.cycles[-1]
        results.append({
            "M": count, "k": k, "vectors": len(beats), "accept_cycles": accept_cycles,
            "passes": model.sort.passes,
            "last_vector_to_first_token": first_importance - (start + accept_cycles),
            "to_first_index": first_index - first_importance,
            "to_last_code": last_code - first_importance + 1,
            "sorter_alone_model": G.sorter_cycles(count, model.sort.k, tb.a, model.selected),
            "published": G.published_sorter_cycles(count, model.sort.k, tb.a),
            "codes": len(model.codes),
            "escapes": sum(1 for c, _ in model.codes if c == 0),
        })
        dut._log.info("%s", results[-1])
    with open(params["result"], "w") as out:
        json.dump(results, out)
