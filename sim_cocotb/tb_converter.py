"""cocotb testbench of ``rtl.output_converter.OutputConverter`` (per-format output conversion).

Parameters: ``dtype``, ``cols``. The converter has the runtime scale ports of its format
(``scale_ports``: int8 ``multiplier`` and ``shift``, fp16 none); the testbench drives exactly
those.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from sim_cocotb.formats import golden_format
from sim_cocotb.runner import tb_params
from sim_cocotb.streams import (StreamSink, StreamSource, child_rngs, pack_tile_vector, reset,
                                start_clock, unpack_tile_vector)

FLOW_PATTERNS = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.5, 0.5)]


class ConverterTB:
    def __init__(self, dut, test_id):
        self.dut = dut
        params, seed = tb_params()
        self.arith = golden_format(params["dtype"])
        self.cols = params["cols"]
        self.rng = np.random.default_rng([seed, test_id])
        start_clock(dut)

    async def reset(self):
        await reset(self.dut, ("i",))

    async def convert(self, values, scale, *, idle=0.0, stall=0.0):
        """Convert ``values`` (rows x cols accumulators) under the runtime ``scale`` (a dict
        over the format's ``scale_ports``) and check every output row."""
        for name, value in scale.items():
            getattr(self.dut, name).value = value
        rngs = child_rngs(self.rng, 2)
        source = StreamSource(self.dut, "i", self.dut.clk, idle=idle, rng=rngs[0])
        sink = StreamSink(self.dut, "o", self.dut.clk, stall=stall, rng=rngs[1])
        sink_task = cocotb.start_soon(sink.run())
        width = self.arith.accumulator_width
        await source.send([pack_tile_vector(row, width, first=i == 0, last=i == len(values) - 1)
                           for i, row in enumerate(values)])
        await sink.wait_for(len(values), timeout_cycles=20 * len(values) + 100)
        await ClockCycles(self.dut.clk, 3)
        sink_task.cancel()
        want = self.arith.convert_output(np.asarray(values), **scale)
        assert len(sink.beats) == len(values), f"{len(sink.beats)} rows for {len(values)}"
        for t, beat in enumerate(sink.beats):
            got, first, last = unpack_tile_vector(beat, self.arith.output_width, self.cols,
                                                  signed=self.arith.signed)
            assert (first, last) == (int(t == 0), int(t == len(values) - 1)), \
                f"o beat {t}: markers first={first} last={last}"
            assert got == [int(v) for v in want[t]], \
                (f"o beat {t} (row {list(values[t])}, scale {scale}): expected "
                 f"{list(want[t])}, got {got}")


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def random_rows_every_flow_pattern(dut):
    tb = ConverterTB(dut, 1)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        values = tb.arith.random_accumulators(tb.rng, (200, tb.cols))
        # with a runtime scale (int8): one under which rounding and saturation occur
        scale = tb.arith.random_output_scale(tb.rng, values)
        await tb.convert(values, scale, idle=idle, stall=stall)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def int8_edge_cases(dut):
    """Requantization by a (multiplier, shift) scale (int8): ties at every shift,
    saturation, shift 0, the extreme accumulators and multipliers."""
    tb = ConverterTB(dut, 2)
    if set(tb.arith.scale_ports) != {"multiplier", "shift"}:
        return
    await tb.reset()
    low, high = -(1 << (tb.arith.accumulator_width - 1)), (1 << (tb.arith.accumulator_width - 1))
    top = (1 << (tb.arith.output_width - 1)) - 1
    extremes = [low, high - 1, 0, 1, -1, top, top + 1, -top - 1, -top - 2]
    for shift in (0, 1, 2, 5, 16, 31, 47, 48, 63):
        ties = [(2 * k + 1) << (shift - 1) if shift else k for k in range(-8, 8)]
        ties = [t for t in ties if low <= t < high]   # within the accumulator format
        values = np.array(ties + extremes, dtype=np.int64)
        values = np.resize(values, (-(-len(values) // tb.cols), tb.cols))
        for multiplier in (1, 3, (1 << 16) - 1):
            await tb.convert(values, {"multiplier": multiplier, "shift": shift})
