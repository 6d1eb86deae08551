"""cocotb testbench of ``rtl.focus_engine.FocusEngine`` against ``golden.engine``.

Parameters: ``dtype``, ``rows``, ``cols``, ``m_tile``, ``lanes``, ``slices``, the gather's
``window``, ``window_vectors``, ``matchers``, ``position_bits``, optionally ``geometry``.
Inputs are video-like tokens (``golden.workloads``), randomly pruned like SEC would, and
concentrated by the tensor-level model (``golden.algorithm``): the engine receives the
unique vectors and maps of each K-slice and the positions of the tile's tokens, and must
emit the output tile concentrated exactly as ``golden.engine.engine_output``. Everything
format-dependent (operand encoding, weights, the runtime output scale and its ports) comes
from the golden number format (``sim_cocotb.formats.golden_format``).
"""

import dataclasses

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from golden import sic
from golden.algorithm import compress, similarity_concentration
from golden.engine import engine_accumulators, engine_output
from golden.workloads import GEOMETRIES, video_tokens
from sim_cocotb.runner import tb_params
from sim_cocotb.streams import (StreamSink, StreamSource, child_rngs, pack, pack_tile_vector,
                                reset, unpack_tile_vector)
from sim_cocotb.tb_scatter import ScatterTB

DEFAULT_GEOMETRY = "tiny"
#: Share of the tokens kept (at random, like SEC would).
KEEP = 0.8
FLOW_PATTERNS = [(0.0, 0.0), (0.3, 0.3)]
THETA = 0.9


class Workload:
    """The first tile of a pruned, concentrated token sequence: per K-slice unique vectors
    and maps, the tokens' positions, and the dense rows."""

    def __init__(self, arith, rows, slices, m_tile, seed, geometry=DEFAULT_GEOMETRY, keep=KEEP):
        self.geometry = GEOMETRIES[geometry]
        x = video_tokens(self.geometry, rows * slices, seed=seed)
        kept = np.flatnonzero(np.random.default_rng(seed).random(x.shape[0]) < keep)
        x = x[kept]
        scale = 127 / np.abs(x).max()
        result = similarity_concentration(x, frame_stride=self.geometry.frame_stride,
                                          row_stride=self.geometry.row_stride,
                                          vector_size=rows, m_tile=m_tile, positions=kept)
        merged = arith.to_operands(result.out, scale=scale)
        tile = compress(merged, result.group, vector_size=rows, m_tile=m_tile).tiles[0]
        self.tokens = len(tile[0].map)
        self.positions = kept[:self.tokens]
        self.uniques = [piece.unique.astype(np.int64) for piece in tile]
        self.maps = [piece.map for piece in tile]
        self.merged = merged[:self.tokens]
        self.dense = arith.to_operands(x, scale=scale)[:self.tokens]
        self.sparsity = result.sparsity


@dataclasses.dataclass
class OutputTile:
    """One output tile to run: weights per K-slice and the concentrated input."""
    weights: list
    uniques: list
    maps: list


class EngineTB(ScatterTB):
    """Drives weights, unique vectors, maps and positions; checks the gathered output."""

    def __init__(self, dut, test_id):
        super().__init__(dut, test_id)
        params, seed = tb_params()
        self.params = params
        self.rows, self.slices = params["rows"], params["slices"]
        self.window = tuple(params["window"])
        self.workload = Workload(self.arith, self.rows, self.slices, self.m_tile, seed,
                                 params.get("geometry", DEFAULT_GEOMETRY))
        self.theta2 = sic.theta_register(THETA)

    async def reset(self):
        await reset(self.dut, ("weights", "acts", "maps", "positions"))

    def flow(self, idle, stall):
        rngs = child_rngs(self.rng, 6)
        self.sources = {name: StreamSource(self.dut, name, self.dut.clk, idle=idle, rng=r)
                        for name, r in zip(("weights", "acts", "maps", "positions"), rngs)}
        self.sink = StreamSink(self.dut, "unique", self.dut.clk, stall=stall, rng=rngs[4])
        self.map_sink = StreamSink(self.dut, "map", self.dut.clk, stall=stall, rng=rngs[5])
        return [cocotb.start_soon(self.sink.run()), cocotb.start_soon(self.map_sink.run())]

    def gemm(self, x, weights):
        """Integer ``x @ W`` of the tile's K-slices: the exact accumulators of a format with
        ``exact_accumulation`` (int8), an independent reference."""
        return sum(x[:, k * self.rows:(k + 1) * self.rows] @ w for k, w in enumerate(weights))

    def dense_slices(self):
        """The workload's dense rows as the K-slices' folds, with identity maps."""
        w = self.workload
        return ([w.dense[:, k * self.rows:(k + 1) * self.rows] for k in range(self.slices)],
                [np.arange(w.tokens)] * self.slices)

    def output_scale(self, weights):
        """The runtime output scale (a dict over the format's ``scale_ports``; int8: the
        shift that maps the dense result onto [-127, 127]); ``{}`` without one."""
        if not self.arith.scale_ports:
            return {}
        return self.arith.fitting_output_scale(
            engine_accumulators(self.arith, weights, *self.dense_slices()))

    def random_weights(self):
        """One weight tile like trained weights (``random_weights`` of the format with
        fan-in K: int8 uniform, fp16 normal with variance 1/K)."""
        return self.arith.random_weights(self.rng, (self.rows, self.cols),
                                         fan_in=self.rows * self.slices)

    def tile(self, *, dense, uniques=None, maps=None):
        """An output tile with fresh random weights; ``uniques``/``maps`` override the
        workload's concentrated input."""
        w = self.workload
        weights = [self.random_weights() for _ in range(self.slices)]
        if dense and uniques is None:
            uniques, maps = self.dense_slices()
        elif uniques is None:
            uniques, maps = w.uniques, w.maps
        return OutputTile(weights, uniques, maps)

    def expected(self, tile, *, dense, scale):
        return engine_output(self.arith, tile.weights, tile.uniques, tile.maps,
                             scale=scale, dense=dense,
                             positions=self.workload.positions, window=self.window,
                             m_tile=self.m_tile, frame_stride=self.workload.geometry.frame_stride,
                             row_stride=self.workload.geometry.row_stride, theta2=self.theta2)

    async def run_tiles(self, tiles, *, dense, idle=0.0, stall=0.0):
        """Output tiles back to back (same tokens, slices and registers); every output beat
        checked. Returns the runtime output scale used (``{}`` for a format without one)."""
        w = self.workload
        scale = self.output_scale(tiles[0].weights)
        geometry = w.geometry
        registers = {"dense": int(dense), "tokens": w.tokens, "slices": self.slices,
                     "frame_stride": geometry.frame_stride, "row_stride": geometry.row_stride,
                     "theta2": self.theta2, **scale}
        for name, value in registers.items():
            getattr(self.dut, name).value = value
        sink_tasks = self.flow(idle, stall)
        width = self.arith.operand_width
        tasks = [cocotb.start_soon(self.sources["weights"].send(
            [pack(row, width) for tile in tiles for weights in tile.weights
             for row in weights]))]
        if not dense:
            tasks.append(cocotb.start_soon(self.sources["maps"].send(
                [b for tile in tiles for mapping in tile.maps for b in self.map_beats(mapping)])))
            tasks.append(cocotb.start_soon(self.sources["positions"].send(
                [int(p) for _ in tiles for p in w.positions])))
        await self.sources["acts"].send(
            [pack_tile_vector(v, width, first=i == 0, last=i == len(u) - 1)
             for tile in tiles for u in tile.uniques for i, v in enumerate(u)])
        for task in tasks:
            await task
        expected = [self.expected(tile, dense=dense, scale=scale) for tile in tiles]
        budget = 200 * w.tokens * self.slices * len(tiles) + 1000
        try:
            await self.sink.wait_for(sum(len(e.unique) for e in expected), timeout_cycles=budget)
            await self.map_sink.wait_for(sum(len(e.map) for e in expected),
                                         timeout_cycles=budget)
        except AssertionError:
            # a wrong beat among those received explains a timeout better
            self.check_output(expected, complete=False)
            raise
        await ClockCycles(self.dut.clk, 5)
        for task in sink_tasks:
            task.cancel()
        self.check_output(expected)
        return scale

    async def run_tile(self, *, dense, idle=0.0, stall=0.0, uniques=None, maps=None):
        """One output tile, checked; returns (the tile, the output scale)."""
        tile = self.tile(dense=dense, uniques=uniques, maps=maps)
        scale = await self.run_tiles([tile], dense=dense, idle=idle, stall=stall)
        return tile, scale

    def check_output(self, expected, *, complete=True):
        """Every received beat against the model, the first wrong one named; then (when
        ``complete``) the beat counts and clear error bits."""
        width, cols = self.arith.output_width, self.cols
        code_bits = sic.map_bits(self.m_tile)
        maps = [(f"tile {number} token {t}", (int(code), int(t == 0), int(t == len(e.map) - 1)))
                for number, e in enumerate(expected) for t, code in enumerate(e.map)]
        for index, (word, (where, want)) in enumerate(zip(self.map_sink.beats, maps)):
            got = (word & ((1 << code_bits) - 1), (word >> code_bits) & 1,
                   (word >> (code_bits + 1)) & 1)
            assert got == want, (f"map beat {index} ({where}): (code, first, last) "
                                 f"expected {want}, got {got}")
        uniques = [(f"tile {number} vector {g}", ([int(v) for v in vector], int(g == 0),
                                                  int(g == len(e.unique) - 1)))
                   for number, e in enumerate(expected) for g, vector in enumerate(e.unique)]
        for index, (word, (where, want)) in enumerate(zip(self.sink.beats, uniques)):
            got = unpack_tile_vector(word, width, cols, signed=self.arith.signed)
            assert got == want, (f"unique beat {index} ({where}): (vector, first, last) "
                                 f"expected {want}, got {got}")
        if complete:
            assert len(self.map_sink.beats) == len(maps), \
                f"map: {len(self.map_sink.beats)} beats, expected {len(maps)}"
            assert len(self.sink.beats) == len(uniques), \
                f"unique: {len(self.sink.beats)} beats, expected {len(uniques)}"
            assert int(self.dut.error.value) == 0, f"error bits {int(self.dut.error.value):#x}"

    def rows_out(self):
        """The received unique vectors as an int array (dense mode: the output rows)."""
        return np.array([unpack_tile_vector(b, self.arith.output_width, self.cols,
                                            signed=self.arith.signed)[0]
                         for b in self.sink.beats])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def concentrated_tile_on_video_tokens(dut):
    """Unique vectors + maps from the tensor-level gather in, the output tile gathered again
    out; bit-exact to the golden engine."""
    tb = EngineTB(dut, 1)
    await tb.reset()
    dut._log.info("workload sparsity %.3f, %d tokens, unique vectors per slice %s",
                  tb.workload.sparsity, tb.workload.tokens,
                  [len(u) for u in tb.workload.uniques])
    for idle, stall in FLOW_PATTERNS:
        tile, scale = await tb.run_tile(dense=False, idle=idle, stall=stall)
    assert int(dut.array_vectors.value) == 2 * sum(len(u) for u in tile.uniques)
    if tb.arith.exact_accumulation:
        # exact integers: the concentrated GEMM equals the dense GEMM on the merged input
        merged = tb.workload.merged
        acc = tb.gemm(merged, tile.weights)
        e = tb.expected(tile, dense=False, scale=scale)
        rows = np.array([e.unique[c] if c != sic.zero_code(tb.m_tile) else np.zeros(tb.cols)
                         for c in e.map])
        members = e.map != sic.zero_code(tb.m_tile)
        want = tb.arith.convert_output(acc, **scale)
        singletons = np.bincount(e.map[members], minlength=len(e.unique)) == 1
        exact = members & np.isin(e.map, np.flatnonzero(singletons))
        assert np.array_equal(rows[exact], want[exact]), \
            "a token alone in its output group is not the dense GEMM row of the merged input"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def dense_mode_is_the_dense_gemm(dut):
    """Identity maps generated inside, nothing gathered: the plain GEMM of all tokens."""
    tb = EngineTB(dut, 2)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        tile, scale = await tb.run_tile(dense=True, idle=idle, stall=stall)
    if tb.arith.exact_accumulation:
        acc = tb.gemm(tb.workload.dense, tile.weights)
        assert np.array_equal(tb.rows_out(), tb.arith.convert_output(acc, **scale))


@cocotb.test(timeout_time=40, timeout_unit="ms")
async def tiles_back_to_back(dut):
    """Three output tiles (N-slices) streamed without pauses, in both modes: the gather of a
    tile overlaps the next tile's compute."""
    tb = EngineTB(dut, 4)
    await tb.reset()
    for dense, (idle, stall) in ((False, FLOW_PATTERNS[0]), (False, FLOW_PATTERNS[1]),
                                 (True, FLOW_PATTERNS[1])):
        await tb.run_tiles([tb.tile(dense=dense) for _ in range(3)], dense=dense, idle=idle,
                           stall=stall)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def modes_alternate_without_reset(dut):
    """Dense, concentrated, dense tiles one after the other."""
    tb = EngineTB(dut, 3)
    await tb.reset()
    for dense in (True, False, True):
        await tb.run_tile(dense=dense)
