"""cocotb run of the generated SEC top (``semantic_concentrator``) on one layer, for power.

Parameters: ``dtype``, ``sort_width``, ``max_tokens``, ``offset_bits``, ``tokens`` (M),
``keep`` (k), ``rows`` (text rows x heads of the layer) and ``result`` (JSON file to write).
Random attention probabilities go in back to back; the offset codes must equal the golden
model's (``golden.sec``). The record holds the cycles from the first input beat to the last
code, the analyzer vectors and the codes.
"""

import json

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge

from golden import sec as G
from sim_cocotb.runner import tb_params
from sim_cocotb.tb_sec import SecTB, split_layers, unpack_struct


class PlainSecTB(SecTB):
    """:class:`SecTB` on the SEC top alone (no harness taps)."""

    async def reset(self):
        dut = self.dut
        dut.rst.value = 1
        dut.probs__valid.value = 0
        dut.codes__ready.value = 0
        dut.k.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await RisingEdge(dut.clk)


@cocotb.test()
async def sec_layer(dut):
    params, _ = tb_params()
    tb = PlainSecTB(dut, 200)
    await tb.reset()
    count, k = params["tokens"], params["keep"]
    raw = tb.random_probs(params["rows"], count, "random")
    beats = G.probability_beats(raw, tb.a, rng=tb.rng)
    model = G.semantic_concentrator(tb.arith, beats, k, **tb.sec, offset_bits=tb.bits)
    await ClockCycles(dut.clk, G.clear_cycles(tb.n, tb.a) + 4)   # buffer clear after reset
    dut.k.value = k
    sink, sink_task = tb.sink("codes")
    probs = tb.source("probs")
    start = get_sim_time("ns")
    await probs.send(tb.probs_beats(beats))
    budget = (model.sort.passes + 2) * (len(model.importance) + 2 * tb.a) + 64 \
        + 2 * len(model.codes)
    await sink.wait_for(len(model.codes), timeout_cycles=budget)
    end = get_sim_time("ns")
    await ClockCycles(dut.clk, 2)
    sink_task.cancel()
    codes = split_layers([unpack_struct(tb.code_layout, w) for w in sink.beats], "code")
    assert codes == [[c for c, _ in model.codes]], "codes differ from the golden model"
    with open(params["result"], "w") as out:
        json.dump({"M": count, "k": k, "vectors": len(beats), "passes": model.sort.passes,
                   "codes": len(model.codes), "busy_ns": end - start}, out)
