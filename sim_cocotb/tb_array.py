"""cocotb testbench of ``rtl.systolic_array.SystolicArray`` against ``golden.systolic_array``.

Parameters (from :func:`sim_cocotb.runner.tb_params`): ``dtype``, ``rows``, ``cols``.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from golden.systolic_array import systolic_array
from sim_cocotb.formats import golden_format
from sim_cocotb.runner import tb_params
from sim_cocotb.streams import (StreamSink, StreamSource, child_rngs, pack, pack_tile_vector,
                                reset, start_clock, unpack_tile_vector)

# (idle probability on both inputs, stall probability on the output)
FLOW_PATTERNS = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.5, 0.5)]


class ArrayTB:
    """Clock, reset, the two input sources and the output sink of one array instance."""

    def __init__(self, dut, test_id):
        self.dut = dut
        params, seed = tb_params()
        self.arith = golden_format(params["dtype"])
        self.rows, self.cols = params["rows"], params["cols"]
        self.seed = seed
        self.rng = np.random.default_rng([seed, test_id])
        dut._log.info("seed %d, test id %d, %s %dx%d", seed, test_id, params["dtype"],
                      self.rows, self.cols)
        start_clock(dut)

    async def reset(self):
        await reset(self.dut, ("weights", "acts"))

    def flow(self, idle, stall):
        """Fresh sources and sink with the given idle / back-pressure probabilities."""
        rngs = child_rngs(self.rng, 3)
        self.weights = StreamSource(self.dut, "weights", self.dut.clk, idle=idle, rng=rngs[0])
        self.acts = StreamSource(self.dut, "acts", self.dut.clk, idle=idle, rng=rngs[1])
        self.sink = StreamSink(self.dut, "psums", self.dut.clk, stall=stall, rng=rngs[2])
        return cocotb.start_soon(self.sink.run())

    def random_tiles(self, count):
        return [self.arith.random_operands(self.rng, (self.rows, self.cols))
                for _ in range(count)]

    def random_folds(self, lengths):
        return [self.arith.random_operands(self.rng, (p, self.rows)) for p in lengths]

    def weight_beats(self, tiles):
        width = self.arith.operand_width
        return [pack(row, width) for tile in tiles for row in tile]

    def act_beats(self, folds):
        width = self.arith.operand_width
        return [pack_tile_vector(vector, width, first=i == 0, last=i == len(fold) - 1)
                for fold in folds for i, vector in enumerate(fold)]

    async def run_gemm(self, tiles, folds, *, idle=0.0, stall=0.0):
        """Stream tiles and folds concurrently, then check every output beat."""
        sink_task = self.flow(idle, stall)
        weight_task = cocotb.start_soon(self.weights.send(self.weight_beats(tiles)))
        await self.acts.send(self.act_beats(folds))
        await weight_task
        total = sum(len(f) for f in folds)
        await self.sink.wait_for(total, timeout_cycles=20 * total + 50 * self.rows * self.cols)
        await ClockCycles(self.dut.clk, 3)
        sink_task.cancel()
        self.check(folds, systolic_array(self.arith, tiles, folds))

    def check(self, folds, expected):
        beats = self.sink.beats
        total = sum(len(f) for f in folds)
        assert len(beats) == total, f"{len(beats)} output beats for {total} vectors"
        index = 0
        for f, (fold, want) in enumerate(zip(folds, expected)):
            for i in range(len(fold)):
                values, first, last = unpack_tile_vector(
                    beats[index], self.arith.accumulator_width, self.cols,
                    signed=self.arith.signed)
                where = f"psums beat {index} (fold {f} vector {i})"
                assert (first, last) == (int(i == 0), int(i == len(fold) - 1)), \
                    f"{where}: markers first={first} last={last}"
                assert values == [int(v) for v in want[i]], \
                    f"{where}: expected {list(want[i])}, got {values}"
                index += 1
        assert int(self.dut.error.value) == 0, "protocol error flag raised on a clean stream"


@cocotb.test()
async def random_gemms(dut):
    """Random tiles and fold lengths, back to back, under every idle/back-pressure pattern."""
    tb = ArrayTB(dut, 1)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        lengths = [int(p) for p in tb.rng.integers(1, 3 * tb.rows + 3, size=5)]
        await tb.run_gemm(tb.random_tiles(5), tb.random_folds(lengths), idle=idle, stall=stall)


@cocotb.test()
async def long_folds_back_to_back(dut):
    """Folds much longer than the array, so every weight reload overlaps computation."""
    tb = ArrayTB(dut, 2)
    await tb.reset()
    lengths = [4 * tb.rows + tb.cols] * 3
    await tb.run_gemm(tb.random_tiles(3), tb.random_folds(lengths))
    await tb.run_gemm(tb.random_tiles(3), tb.random_folds(lengths), idle=0.2, stall=0.2)


@cocotb.test()
async def single_vector_folds(dut):
    """Every fold is one vector: the weight bank changes on every beat."""
    tb = ArrayTB(dut, 3)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS[:2]:
        await tb.run_gemm(tb.random_tiles(6), tb.random_folds([1] * 6), idle=idle, stall=stall)


@cocotb.test()
async def extreme_operands(dut):
    """Largest-magnitude operands everywhere (for int8: -128 x -128 summed over all of K),
    then with weights of the complement ``-x - 1`` (int8: 127)."""
    tb = ArrayTB(dut, 4)
    await tb.reset()
    low = int(tb.arith.extreme_operand)
    tile = np.full((tb.rows, tb.cols), low, dtype=np.int64)
    fold = np.full((3, tb.rows), low, dtype=np.int64)
    await tb.run_gemm([tile, -tile - 1], [fold, fold])


@cocotb.test()
async def reset_in_mid_stream(dut):
    """Reset while tiles and vectors are in flight; the next GEMM must be unaffected."""
    tb = ArrayTB(dut, 5)
    await tb.reset()
    sink_task = tb.flow(0.0, 0.0)
    tiles, folds = tb.random_tiles(2), tb.random_folds([2 * tb.rows, 2 * tb.rows])
    weight_task = cocotb.start_soon(tb.weights.send(tb.weight_beats(tiles)))
    act_task = cocotb.start_soon(tb.acts.send(tb.act_beats(folds)))
    await ClockCycles(dut.clk, tb.rows + 3)
    weight_task.cancel()
    act_task.cancel()
    sink_task.cancel()
    await tb.reset()
    await tb.run_gemm(tb.random_tiles(2), tb.random_folds([5, 3]), idle=0.2, stall=0.2)


@cocotb.test()
async def protocol_error_flag(dut):
    """A fold that does not start with ``first`` raises the sticky error flag."""
    tb = ArrayTB(dut, 6)
    await tb.reset()
    sink_task = tb.flow(0.0, 0.0)
    tile = tb.random_tiles(1)
    vector = tb.random_folds([1])[0][0]
    await tb.weights.send(tb.weight_beats(tile))
    await tb.acts.send([pack_tile_vector(vector, tb.arith.operand_width, first=0, last=1)])
    await tb.sink.wait_for(1, timeout_cycles=10 * tb.rows * tb.cols)
    sink_task.cancel()
    assert int(dut.error.value) == 1, "error flag not raised for a fold without first"
    await tb.reset()
    assert int(dut.error.value) == 0, "reset does not clear the error flag"
