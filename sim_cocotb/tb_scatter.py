"""cocotb testbench of ``rtl.scatter_accumulator.ScatterAccumulator`` vs ``golden.scatter``.

Parameters: ``dtype``, ``cols``, ``m_tile``, ``lanes``.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from golden.scatter import ZERO, scatter_tile
from rtl.scatter_accumulator import ScatterError
from sim_cocotb.formats import golden_format
from sim_cocotb.runner import tb_params
from sim_cocotb.streams import (StreamSink, StreamSource, child_rngs, pack, pack_tile_vector,
                                reset, start_clock, unpack_tile_vector)

FLOW_PATTERNS = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.5, 0.5)]


class ScatterTB:
    def __init__(self, dut, test_id):
        self.dut = dut
        params, seed = tb_params()
        self.arith = golden_format(params["dtype"])
        self.cols, self.m_tile, self.lanes = params["cols"], params["m_tile"], params["lanes"]
        self.group_bits = max(self.m_tile - 1, 1).bit_length()
        self.rng = np.random.default_rng([seed, test_id])
        dut._log.info("seed %d, test id %d, %s", seed, test_id, params)
        start_clock(dut)

    async def reset(self):
        await reset(self.dut, ("psums", "maps"))

    def flow(self, idle, stall):
        rngs = child_rngs(self.rng, 3)
        self.psum_source = StreamSource(self.dut, "psums", self.dut.clk, idle=idle, rng=rngs[0])
        self.map_source = StreamSource(self.dut, "maps", self.dut.clk, idle=idle, rng=rngs[1])
        self.sink = StreamSink(self.dut, "out", self.dut.clk, stall=stall, rng=rngs[2])
        return cocotb.start_soon(self.sink.run())

    def random_slice(self, tokens, *, uniques=None, zero_share=0.2):
        """A slice: its partial-sum table and a map in first-appearance order."""
        uniques = uniques or int(self.rng.integers(1, tokens + 1))
        groups = np.sort(self.rng.choice(tokens, size=uniques, replace=False))
        mapping = np.full(tokens, ZERO)
        mapping[groups] = np.arange(uniques)       # each group's first member
        for t in range(tokens):
            if mapping[t] == ZERO and self.rng.random() > zero_share:
                earlier = np.count_nonzero(groups < t)
                if earlier:
                    mapping[t] = self.rng.integers(earlier)
        table = self.arith.random_accumulators(self.rng, (uniques, self.cols))
        return table, mapping

    def psum_beats(self, table):
        width = self.arith.accumulator_width
        return [pack_tile_vector(row, width, first=i == 0, last=i == len(table) - 1)
                for i, row in enumerate(table)]

    def map_beats(self, mapping, *, last_at=None):
        entry_width = self.group_bits + 1
        beats = []
        count = -(-len(mapping) // self.lanes)
        for i in range(count):
            entries = []
            for j in range(self.lanes):
                t = i * self.lanes + j
                group = int(mapping[t]) if t < len(mapping) else ZERO
                entries.append((1 << self.group_bits) if group == ZERO else group)
            last = i == (count - 1 if last_at is None else last_at)
            beats.append(pack(entries, entry_width) | (int(last) << (self.lanes * entry_width)))
        return beats

    async def run_tile(self, slices, *, idle=0.0, stall=0.0, tokens_register=None):
        """One tile: ``slices`` is a list of (partial-sum table, map) per K-slice."""
        await self.run_tiles([slices], idle=idle, stall=stall, tokens_register=tokens_register)

    async def run_tiles(self, tiles, *, idle=0.0, stall=0.0, tokens_register=None):
        """Tiles of equal token and slice counts back to back, without waiting for the
        output in between (a tile's read-out overlaps the next tile's first slice)."""
        tokens = len(tiles[0][0][1])
        self.dut.tokens.value = tokens if tokens_register is None else tokens_register
        self.dut.slices.value = len(tiles[0])
        sink_task = self.flow(idle, stall)
        psum_task = cocotb.start_soon(self.psum_source.send(
            [b for slices in tiles for table, _ in slices for b in self.psum_beats(table)]))
        await self.map_source.send([b for slices in tiles for _, mapping in slices
                                    for b in self.map_beats(mapping)])
        await psum_task
        rows = tokens * len(tiles)
        await self.sink.wait_for(rows, timeout_cycles=50 * rows * len(tiles[0]) + 200)
        await ClockCycles(self.dut.clk, 5)
        sink_task.cancel()
        self.check([scatter_tile(self.arith, [t for t, _ in slices], [m for _, m in slices])
                    for slices in tiles])

    def check(self, expected_tiles):
        beats = self.sink.beats
        rows = sum(len(tile) for tile in expected_tiles)
        assert len(beats) == rows, f"{len(beats)} rows out, {rows} expected"
        beat = iter(enumerate(beats))
        for number, expected in enumerate(expected_tiles):
            for t, want in enumerate(expected):
                index, word = next(beat)
                values, first, last = unpack_tile_vector(word, self.arith.accumulator_width,
                                                         self.cols, signed=self.arith.signed)
                where = f"out beat {index} (tile {number} row {t})"
                assert (first, last) == (int(t == 0), int(t == len(expected) - 1)), \
                    f"{where}: markers first={first} last={last}"
                assert values == [int(v) for v in want], \
                    f"{where}: expected {list(want)}, got {values}"

    def errors(self):
        value = int(self.dut.error.value)
        return {cause for cause in ScatterError if value >> cause.value & 1}


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def random_tiles(dut):
    """Random maps (with ZERO entries) over several slices, every flow pattern."""
    tb = ScatterTB(dut, 1)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        tokens = int(tb.rng.integers(1, tb.m_tile + 1))
        slices = [tb.random_slice(tokens) for _ in range(int(tb.rng.integers(1, 5)))]
        await tb.run_tile(slices, idle=idle, stall=stall)
    assert not tb.errors(), f"unexpected errors {tb.errors()}"


@cocotb.test(timeout_time=4, timeout_unit="ms")
async def tiles_back_to_back(dut):
    """Tiles streamed without a pause: each tile's read-out overlaps the next tile's first
    slice (which must not overwrite rows not yet read), one-slice tiles included."""
    tb = ScatterTB(dut, 5)
    await tb.reset()
    for number, (idle, stall) in enumerate(FLOW_PATTERNS):
        tokens = [tb.m_tile, int(tb.rng.integers(1, tb.m_tile + 1))][number % 2]
        slices = [1, 3, 2, 1][number]
        tiles = [[tb.random_slice(tokens) for _ in range(slices)] for _ in range(3)]
        await tb.run_tiles(tiles, idle=idle, stall=stall)
    assert not tb.errors(), f"unexpected errors {tb.errors()}"


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def extremes_of_the_map(dut):
    """Dense (identity) maps, one group for every token, all-ZERO slices, full tiles."""
    tb = ScatterTB(dut, 2)
    await tb.reset()
    m = tb.m_tile
    identity = tb.random_slice(m, uniques=m)
    single = tb.random_slice(m, uniques=1, zero_share=0.0)
    zeros = (identity[0][:1], np.full(m, ZERO))
    await tb.run_tile([identity, single, zeros])
    await tb.run_tile([zeros])                           # nothing added: the format's zero
    await tb.run_tile([tb.random_slice(1, uniques=1)])   # a one-token tile
    assert not tb.errors(), f"unexpected errors {tb.errors()}"


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def back_pressure_reaches_the_array(dut):
    """Many slices with tiny tables: the scatter is the bottleneck and stalls psums."""
    tb = ScatterTB(dut, 3)
    await tb.reset()
    slices = [tb.random_slice(tb.m_tile, uniques=1) for _ in range(6)]
    await tb.run_tile(slices)
    assert int(dut.stall_cycles.value) > 0, "the array was never stalled"
    assert int(dut.busy_cycles.value) == 6 * -(-tb.m_tile // tb.lanes)


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def bad_inputs_raise_error_bits(dut):
    """Out-of-range registers, a group beyond the table, and a misplaced last marker."""
    tb = ScatterTB(dut, 4)
    await tb.reset()
    tokens = max(4, tb.lanes + 1)                        # two map beats at least
    table, mapping = tb.random_slice(tokens, uniques=2, zero_share=0.0)
    bad = mapping.copy()
    bad[3] = 2                                           # the table has groups 0 and 1 only
    tb.dut.tokens.value, tb.dut.slices.value = tokens, 1
    sink_task = tb.flow(0.0, 0.0)
    await tb.psum_source.send(tb.psum_beats(table))
    await tb.map_source.send(tb.map_beats(bad, last_at=0))
    await tb.sink.wait_for(tokens, timeout_cycles=500)
    sink_task.cancel()
    assert tb.errors() == {ScatterError.BAD_GROUP, ScatterError.MISPLACED_LAST}, tb.errors()
    await tb.reset()
    assert not tb.errors(), "reset does not clear the error bits"
    await tb.run_tile([tb.random_slice(1, uniques=1)], tokens_register=0)  # clamped to 1
    assert tb.errors() == {ScatterError.BAD_TOKENS}, tb.errors()
