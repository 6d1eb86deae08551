"""cocotb testbench of ``rtl.focus_engine.FocusEngine`` against ``golden.engine``.

Parameters: ``dtype``, ``rows``, ``cols``, ``m_tile``, ``lanes``, ``slices``. Inputs are
video-like tokens (``golden.workloads``) concentrated by the tensor-level model
(``golden.algorithm``): the engine receives the unique vectors and maps of each K-slice.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from golden.algorithm import compress, similarity_concentration
from golden.engine import engine_tile
from golden.workloads import GEOMETRIES, video_tokens
from sim_cocotb.runner import tb_params
from sim_cocotb.streams import (StreamSink, StreamSource, child_rngs, pack, pack_tile_vector,
                                reset, unpack_tile_vector)
from sim_cocotb.tb_scatter import ScatterTB

DEFAULT_GEOMETRY = "tiny"
FLOW_PATTERNS = [(0.0, 0.0), (0.3, 0.3)]


def to_operands(arith, x, scale):
    """Real values -> the format's raw operands (int8: x * scale rounded; fp16: bits)."""
    if arith.name == "int8":
        return np.clip(np.rint(x * scale), -127, 127).astype(np.int64)
    return np.asarray(x, dtype=np.float16).view(np.uint16).astype(np.int64)


class Workload:
    """One tile of concentrated input: per K-slice unique vectors and maps, dense rows too."""

    def __init__(self, arith, rows, slices, m_tile, seed, geometry=DEFAULT_GEOMETRY):
        geometry = GEOMETRIES[geometry]
        x = video_tokens(geometry, rows * slices, seed=seed)
        scale = 127 / np.abs(x).max()
        result = similarity_concentration(x, frame_stride=geometry.frame_stride,
                                          row_stride=geometry.row_stride, vector_size=rows,
                                          m_tile=m_tile)
        merged = to_operands(arith, result.out, scale)
        tile = compress(merged, result.group, vector_size=rows, m_tile=m_tile).tiles[0]
        self.tokens = len(tile[0].map)
        self.uniques = [piece.unique.astype(np.int64) for piece in tile]
        self.maps = [piece.map for piece in tile]
        self.merged = merged[:self.tokens]
        self.dense = to_operands(arith, x, scale)[:self.tokens]
        self.sparsity = result.sparsity


class EngineTB(ScatterTB):
    """Drives weights, unique vectors and maps; checks the converted output tile."""

    def __init__(self, dut, test_id):
        super().__init__(dut, test_id)
        params, seed = tb_params()
        self.rows, self.slices = params["rows"], params["slices"]
        self.workload = Workload(self.arith, self.rows, self.slices, self.m_tile, seed,
                                 params.get("geometry", DEFAULT_GEOMETRY))

    async def reset(self):
        await reset(self.dut, ("weights", "acts", "maps"))

    def flow(self, idle, stall):
        rngs = child_rngs(self.rng, 4)
        self.sources = {name: StreamSource(self.dut, name, self.dut.clk, idle=idle, rng=r)
                        for name, r in zip(("weights", "acts", "maps"), rngs)}
        self.sink = StreamSink(self.dut, "out", self.dut.clk, stall=stall, rng=rngs[3])
        return cocotb.start_soon(self.sink.run())

    def output_scale(self, tiles):
        """An int8 (multiplier, shift) that maps the dense result onto [-127, 127]."""
        if self.arith.name != "int8":
            return 1, 0
        dense = sum(self.workload.dense[:, k * self.rows:(k + 1) * self.rows] @ w
                    for k, w in enumerate(tiles))
        return 1, max(int(np.abs(dense).max()) // 127, 1).bit_length()

    async def run_tile(self, *, dense, idle=0.0, stall=0.0, uniques=None, maps=None):
        """One output tile, checked; returns (weight tiles, scale, unique vectors).

        ``uniques``/``maps`` override the workload's concentrated input.
        """
        w = self.workload
        tiles = [self.arith.random_operands(self.rng, (self.rows, self.cols))
                 for _ in range(self.slices)]
        multiplier, shift = self.output_scale(tiles)
        if dense:
            uniques = [w.dense[:, k * self.rows:(k + 1) * self.rows]
                       for k in range(self.slices)]
            maps = [np.arange(w.tokens)] * self.slices
        elif uniques is None:
            uniques, maps = w.uniques, w.maps
        for name, value in (("dense", int(dense)), ("tokens", w.tokens),
                            ("slices", self.slices), ("multiplier", multiplier),
                            ("shift", shift)):
            getattr(self.dut, name).value = value
        sink_task = self.flow(idle, stall)
        width = self.arith.operand_width
        tasks = [cocotb.start_soon(self.sources["weights"].send(
            [pack(row, width) for tile in tiles for row in tile]))]
        if not dense:
            tasks.append(cocotb.start_soon(self.sources["maps"].send(
                [b for mapping in maps for b in self.map_beats(mapping)])))
        await self.sources["acts"].send(
            [pack_tile_vector(v, width, first=i == 0, last=i == len(u) - 1)
             for u in uniques for i, v in enumerate(u)])
        for task in tasks:
            await task
        await self.sink.wait_for(w.tokens, timeout_cycles=200 * w.tokens * self.slices)
        await ClockCycles(self.dut.clk, 5)
        sink_task.cancel()
        expected = engine_tile(self.arith, tiles, uniques, maps,
                               multiplier=multiplier, shift=shift)
        self.check_rows(expected)
        return tiles, (multiplier, shift), uniques

    def check_rows(self, expected):
        beats = self.sink.beats
        assert len(beats) == len(expected), f"{len(beats)} rows out, {len(expected)} expected"
        width = self.arith.output_width
        for t, (beat, want) in enumerate(zip(beats, expected)):
            values, first, last = unpack_tile_vector(beat, width, self.cols,
                                                     signed=self.arith.signed)
            assert (first, last) == (int(t == 0), int(t == len(expected) - 1)), \
                f"row {t}: markers first={first} last={last}"
            assert values == [int(v) for v in want], f"row {t}: got {values}, expected {list(want)}"
        assert int(self.dut.error.value) == 0, f"error bits {int(self.dut.error.value):#x}"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def concentrated_tile_on_video_tokens(dut):
    """Unique vectors + maps from the tensor-level gather; bit-exact to the golden engine."""
    tb = EngineTB(dut, 1)
    await tb.reset()
    dut._log.info("workload sparsity %.3f, %d tokens, unique vectors per slice %s",
                  tb.workload.sparsity, tb.workload.tokens,
                  [len(u) for u in tb.workload.uniques])
    for idle, stall in FLOW_PATTERNS:
        tiles, scale, uniques = await tb.run_tile(dense=False, idle=idle, stall=stall)
    assert int(dut.array_vectors.value) == 2 * sum(len(u) for u in uniques)
    if tb.arith.name == "int8":
        # exact integers: the concentrated GEMM equals the dense GEMM on the merged input
        merged = tb.workload.merged
        acc = sum(merged[:, k * tb.rows:(k + 1) * tb.rows] @ w for k, w in enumerate(tiles))
        want = tb.arith.requantize(acc, *scale)
        got = [unpack_tile_vector(b, 8, tb.cols, signed=True)[0] for b in tb.sink.beats]
        assert np.array_equal(np.array(got), want), "concentrated GEMM != dense GEMM on merged"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def dense_mode_is_the_dense_gemm(dut):
    """Identity maps generated inside: the plain GEMM of all tokens."""
    tb = EngineTB(dut, 2)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        tiles, scale, _ = await tb.run_tile(dense=True, idle=idle, stall=stall)
    if tb.arith.name == "int8":
        acc = sum(tb.workload.dense[:, k * tb.rows:(k + 1) * tb.rows] @ w
                  for k, w in enumerate(tiles))
        got = [unpack_tile_vector(b, 8, tb.cols, signed=True)[0] for b in tb.sink.beats]
        assert np.array_equal(np.array(got), tb.arith.requantize(acc, *scale))


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def modes_alternate_without_reset(dut):
    """Dense, concentrated, dense tiles back to back."""
    tb = EngineTB(dut, 3)
    await tb.reset()
    for dense in (True, False, True):
        await tb.run_tile(dense=dense)
