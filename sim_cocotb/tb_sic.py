"""cocotb testbench of ``rtl.similarity_gather.SimilarityGather`` against ``golden.sic``.

Parameters (from :func:`sim_cocotb.runner.tb_params`): ``dtype``, ``rows`` (V), ``m_tile``,
``window``, ``window_vectors``, ``matchers``, ``position_bits``, optionally
``matcher_width`` and ``collector_lanes`` (default V), ``run_tokens`` (bound on the tokens of
one directed run; default ``3 * m_tile + 7``). Stimulus scales with the configuration: token
positions stay below ``2**position_bits``, and the directed cases use the strides FS 12 /
HS 4 when the window's span fits ``window_vectors``, else the largest of a few smaller ones
that fits (:func:`directed_strides`). Every check is bit for bit:
each tile's representatives and map codes, their ``first``/``last`` markers, and a clear
error flag.
"""

import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from golden import sic
from golden.workloads import GEOMETRIES
from sim_cocotb import tb_sic_cases as cases
from sim_cocotb.formats import golden_format
from sim_cocotb.runner import tb_params
from sim_cocotb.streams import StreamSink, StreamSource, pack, unpack_tile_vector

# (idle probability on the input, stall probability on both outputs)
FLOW_PATTERNS = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.5, 0.5)]
ERROR_REGISTERS, ERROR_PROTOCOL = 1, 2
#: Strides of the directed cases, preferred first; (1, 1) fits any valid configuration.
DIRECTED_STRIDES = [(12, 4), (8, 3), (6, 2), (4, 2), (3, 1), (1, 1)]


def directed_strides(window, window_vectors):
    """``(frame_stride, row_stride)`` of the directed cases: the first of
    :data:`DIRECTED_STRIDES` whose window span fits ``window_vectors``."""
    return next((fs, hs) for fs, hs in DIRECTED_STRIDES
                if sic.window_span(fs, hs, window) <= window_vectors)


class SicTB:
    """Clock, reset, the input source, the two output sinks and the golden comparison."""

    def __init__(self, dut, test_id):
        self.dut = dut
        params, seed = tb_params()
        self.arith = golden_format(params["dtype"])
        self.size = params["rows"]
        self.m_tile = params["m_tile"]
        self.window = tuple(params["window"])
        self.window_vectors = params["window_vectors"]
        self.matchers = params["matchers"]
        self.position_bits = params["position_bits"]
        self.positions = 1 << self.position_bits
        self.run_tokens = params.get("run_tokens") or 3 * params["m_tile"] + 7
        self.fs, self.hs = directed_strides(self.window, self.window_vectors)
        self.matcher_width = params.get("matcher_width") or self.size
        self.collector_lanes = params.get("collector_lanes") or self.size
        self.width = self.arith.operand_width
        self.map_bits = sic.map_bits(self.m_tile)
        self.rng = np.random.default_rng([seed, test_id])
        dut._log.info("seed %d, test id %d, %s", seed, test_id, params)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self):
        self.dut.rst.value = 1
        self.dut.vectors__valid.value = 0
        self.dut.unique__ready.value = 0
        self.dut.map__ready.value = 0
        await ClockCycles(self.dut.clk, 2)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def registers(self, case):
        self.dut.frame_stride.value = case.frame_stride
        self.dut.row_stride.value = case.row_stride
        self.dut.theta2.value = case.theta2
        self.dut.tile_length.value = case.tile_length

    def beats(self, sequences):
        data_bits = self.size * self.width
        words = []
        for vectors, positions in sequences:
            count = len(positions)
            for i in range(count):
                words.append(pack(vectors[i], self.width)
                              | (int(positions[i]) << data_bits)
                              | (int(i == 0) << (data_bits + self.position_bits))
                              | (int(i == count - 1) << (data_bits + self.position_bits + 1)))
        return words

    async def _watch_inputs(self, times, switches):
        """Record the cycle of every accepted input beat (relative to the call); after the
        ``n``-th accepted beat, for ``(n, case)`` in ``switches``, load ``case``'s registers
        (they take effect from the next tile on)."""
        cycle = 0
        switches = list(switches)
        while True:
            await ReadOnly()
            accepted = int(self.dut.vectors__valid.value) and int(self.dut.vectors__ready.value)
            if accepted:
                times.append(cycle)
            await RisingEdge(self.dut.clk)
            if switches and len(times) == switches[0][0]:
                self.registers(switches.pop(0)[1])
            cycle += 1

    async def run(self, *cases_, idle=0.0, stall=0.0, map_stall=None):
        """Stream the cases back to back through the unit (each case's registers are loaded
        right after the previous case's last beat is accepted), check every output beat;
        returns timing. ``stall`` applies to both outputs unless ``map_stall`` is given."""
        expected = [tile for case in cases_
                    for tile in case.expected(self.arith, window=self.window,
                                              m_tile=self.m_tile)]
        beats = [self.beats(case.sequences) for case in cases_]
        switches = [(sum(len(b) for b in beats[:i]), case) for i, case in enumerate(cases_)]
        self.registers(cases_[0])
        seeds = [int(s) for s in self.rng.integers(1 << 32, size=3)]
        source = StreamSource(self.dut, "vectors", self.dut.clk, idle=idle,
                              rng=random.Random(seeds[0]))
        uniques = StreamSink(self.dut, "unique", self.dut.clk, stall=stall,
                             rng=random.Random(seeds[1]))
        maps = StreamSink(self.dut, "map", self.dut.clk,
                          stall=stall if map_stall is None else map_stall,
                          rng=random.Random(seeds[2]))
        accepted = []
        tasks = [cocotb.start_soon(uniques.run()), cocotb.start_soon(maps.run()),
                 cocotb.start_soon(self._watch_inputs(accepted, switches[1:]))]
        await source.send([word for words in beats for word in words])
        tokens = sum(len(tile.map) for tile in expected)
        groups = sum(len(tile.unique) for tile in expected)
        budget = 20 * (tokens * (len(cases.candidate_offsets(1, 1, self.window)) + 4)) + 500
        name = " + ".join(case.name for case in cases_)
        try:
            await maps.wait_for(tokens, timeout_cycles=budget)
            await uniques.wait_for(groups, timeout_cycles=budget)
        except AssertionError:
            # a wrong beat among those received explains a timeout better
            self.check(name, expected, uniques.beats, maps.beats, complete=False)
            raise
        await ClockCycles(self.dut.clk, 5)
        for task in tasks:
            task.cancel()
        self.check(name, expected, uniques.beats, maps.beats)
        return {"accepted": accepted, "map_cycles": maps.cycles,
                "unique_cycles": uniques.cycles, "tiles": expected}

    def check(self, name, expected, unique_beats, map_beats, *, complete=True):
        """Every received beat against the model, the first wrong one named; then (when
        ``complete``) the beat counts and a clear error flag."""
        mask = (1 << self.map_bits) - 1
        maps = [(f"tile {t} token {row}", (int(code), int(row == 0), int(row == len(tile.map) - 1)))
                for t, tile in enumerate(expected) for row, code in enumerate(tile.map)]
        for index, (word, (where, want)) in enumerate(zip(map_beats, maps)):
            got = (word & mask, (word >> self.map_bits) & 1, (word >> (self.map_bits + 1)) & 1)
            assert got == want, (f"{name}: map beat {index} ({where}): (code, first, last) "
                                 f"expected {want}, got {got}")
        uniques = [(f"tile {t} group {g}", ([int(v) for v in vector], int(g == 0),
                                            int(g == len(tile.unique) - 1)))
                   for t, tile in enumerate(expected) for g, vector in enumerate(tile.unique)]
        for index, (word, (where, want)) in enumerate(zip(unique_beats, uniques)):
            got = unpack_tile_vector(word, self.width, self.size, signed=self.arith.signed)
            assert got == want, (f"{name}: unique beat {index} ({where}): (vector, first, last) "
                                 f"expected {want}, got {got}")
        if complete:
            assert len(map_beats) == len(maps), \
                f"{name}: map: {len(map_beats)} beats, expected {len(maps)}"
            assert len(unique_beats) == len(uniques), \
                f"{name}: unique: {len(unique_beats)} beats, expected {len(uniques)}"
            assert int(self.dut.error.value) == 0, f"{name}: error flag {self.dut.error.value}"

    def geometry(self, preferred):
        """``preferred``, else ``"tiny"``: the first workload geometry whose strides fit the
        layouter and whose tokens fit the position range."""
        for name in (preferred, "tiny"):
            shape = GEOMETRIES[name]
            if sic.window_span(shape.frame_stride, shape.row_stride, self.window) \
                    <= self.window_vectors and shape.n_tokens <= self.positions:
                return name
        raise AssertionError(f"no workload geometry fits window {self.window}, "
                             f"window_vectors {self.window_vectors}, {self.positions} positions")

    def tokens(self, count):
        """``count`` tokens, bounded by ``run_tokens`` and the position range."""
        return min(count, self.run_tokens, self.positions)

    def fits(self, case):
        """The case's strides fit the layouter."""
        return sic.window_span(case.frame_stride, case.row_stride, self.window) \
            <= self.window_vectors


@cocotb.test()
async def realistic_workloads(dut):
    """Video-like tokens from photographs, SEC-style pruning, several slots and tile
    lengths, under every flow pattern."""
    tb = SicTB(dut, 1)
    await tb.reset()
    for number, (idle, stall) in enumerate(FLOW_PATTERNS):
        geometry = tb.geometry("small" if number % 2 else "tiny")
        case = cases.realistic(tb.rng, arith=tb.arith, vector_size=tb.size, geometry=geometry,
                               slots=2, keep=[0.6, 0.8, 1.0, 0.5][number], seed=number,
                               tile_length=[tb.m_tile, 16, 11, tb.m_tile][number],
                               m_tile=tb.m_tile)
        await tb.run(case, idle=idle, stall=stall)


@cocotb.test()
async def key_and_drain_rates(dut):
    """The documented rates, measured with neither idle input nor back-pressure: the keys of
    a tile are accepted ``ceil((C + 1) / matchers) * V / matcher_width`` cycles apart (the
    key's norm is one item besides its C candidates; a dot product takes ``V /
    matcher_width`` cycles), and a tile's representatives leave ``V / collector_lanes``
    cycles apart."""
    tb = SicTB(dut, 11)
    await tb.reset()
    candidates = len(cases.candidate_offsets(1, 1, tb.window))
    key_period = -(-(candidates + 1) // tb.matchers) * (tb.size // tb.matcher_width)
    drain_period = tb.size // tb.collector_lanes
    case = cases.copy_chains(tb.rng, arith=tb.arith, vector_size=tb.size, window=tb.window,
                             frame_stride=tb.fs, row_stride=tb.hs, tokens=tb.tokens(tb.m_tile),
                             noise=0.5,
                             keep=1.0, zero=0.0, tile_length=tb.m_tile)
    result = await tb.run(case)
    accepted, uniques = result["accepted"], result["unique_cycles"]
    (tile,) = result["tiles"]
    assert len(tile.unique) > 2, "the rate check needs several representatives"
    key_gaps = {later - earlier for earlier, later in zip(accepted, accepted[1:])}
    drain_gaps = {later - earlier for earlier, later in zip(uniques, uniques[1:])}
    assert key_gaps == {key_period}, f"key spacing {sorted(key_gaps)}, want {key_period}"
    assert drain_gaps == {drain_period}, \
        f"representative spacing {sorted(drain_gaps)}, want {drain_period}"


@cocotb.test()
async def merge_chains_wraps_ties(dut):
    """Tokens copying random candidates (chains across frames, row and frame wrap-around,
    exact ties), with holes and zero vectors, at thresholds 0, 0.9 and just below 1."""
    tb = SicTB(dut, 2)
    await tb.reset()
    for number, theta in enumerate([0.9, 0.0, 0.95, 0.9, 1.0, 0.5]):
        idle, stall = FLOW_PATTERNS[number % len(FLOW_PATTERNS)]
        case = cases.copy_chains(tb.rng, arith=tb.arith, vector_size=tb.size,
                                 window=tb.window, frame_stride=tb.fs, row_stride=tb.hs,
                                 tokens=tb.tokens(3 * tb.m_tile + 7), theta=theta,
                                 noise=[0.05, 0.3, 0.02, 0.0, 0.0, 0.2][number],
                                 tile_length=[tb.m_tile, 9, tb.m_tile, 1, 17, 30][number])
        await tb.run(case, idle=idle, stall=stall)


@cocotb.test()
async def registers_change_between_tiles(dut):
    """Runs with different thresholds, strides and tile lengths back to back, the registers
    changed as soon as the previous run's last token is accepted (while its tiles are still
    in the matcher and being drained): each run must see its own registers."""
    tb = SicTB(dut, 10)
    await tb.reset()
    runs = [cases.copy_chains(tb.rng, arith=tb.arith, vector_size=tb.size, window=tb.window,
                              frame_stride=stride, row_stride=tb.hs, tokens=tb.tokens(tokens),
                              theta=theta,
                              noise=0.1, tile_length=length)
            for stride, theta, tokens, length in (
                (tb.fs, 0.9, 2 * tb.m_tile, tb.m_tile), (max(1, tb.fs - 3), 0.2, tb.m_tile + 5, 7),
                (tb.fs, 0.98, tb.m_tile, tb.m_tile), (max(1, tb.fs - 2), 0.5, 3, 3))]
    for idle, stall in FLOW_PATTERNS[:2]:
        await tb.run(*runs, idle=idle, stall=stall)


@cocotb.test()
async def every_candidate_invalid_in_turn(dut):
    """A key whose favourite candidate is pruned, all-zero or in the previous tile, for each
    candidate in turn (the key must take the next best)."""
    tb = SicTB(dut, 3)
    await tb.reset()
    candidates = len(cases.candidate_offsets(tb.fs, tb.hs, tb.window))
    for how in ("prune", "zero", "tile"):
        for invalid in [None] + list(range(candidates)):
            case = cases.cone(tb.rng, arith=tb.arith, vector_size=tb.size, window=tb.window,
                              frame_stride=tb.fs, row_stride=tb.hs, invalidate=invalid,
                              how=how)
            await tb.run(case, idle=0.2 if how == "zero" else 0.0,
                         stall=0.3 if how == "tile" else 0.0)


@cocotb.test()
async def exact_ties_and_threshold_equality(dut):
    """Exact ties between two candidates of different groups, for every pair (the first
    must win), and cos**2 exactly equal to theta**2 (not similar) or one LSB above it."""
    tb = SicTB(dut, 8)
    await tb.reset()
    kwargs = dict(arith=tb.arith, vector_size=tb.size, window=tb.window, frame_stride=tb.fs,
                  row_stride=tb.hs)
    ties = cases.exact_ties(tb.rng, **kwargs)
    await tb.run(cases.SicCase("ties", tb.fs, tb.hs, 1 << 14, tb.m_tile, ties), idle=0.2, stall=0.2)
    count = len(cases.candidate_offsets(tb.fs, tb.hs, tb.window))
    single = cases.exact_ties(tb.rng, pairs=[(i, i) for i in range(count)], **kwargs)
    for theta2 in (1 << 15, (1 << 15) - 1):
        await tb.run(cases.SicCase(f"threshold-{theta2}", tb.fs, tb.hs, theta2, tb.m_tile, single))


@cocotb.test()
async def all_similar_and_none_similar(dut):
    """Whole tiles of identical vectors (one group) and of pairwise dissimilar vectors (a
    full table of m_tile representatives), back to back, with and without flow control."""
    tb = SicTB(dut, 4)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS[:2] + FLOW_PATTERNS[3:]:
        for similar in (True, False):
            case = cases.uniform(tb.rng, arith=tb.arith, vector_size=tb.size,
                                 tokens=tb.tokens(2 * tb.m_tile + 3), similar=similar,
                                 tile_length=tb.m_tile)
            await tb.run(case, idle=idle, stall=stall)
    # A map consumer far slower than the input: the map FIFO fills and must stall the input.
    await tb.run(case, map_stall=0.95)


@cocotb.test()
async def zero_vectors_and_holes(dut):
    """All-zero tiles (no representative at all), zero candidates and long pruned gaps
    (wider than the layouter), several sequences back to back."""
    tb = SicTB(dut, 5)
    await tb.reset()
    size = tb.size
    base = cases.copy_chains(tb.rng, arith=tb.arith, vector_size=size, window=tb.window,
                             frame_stride=tb.fs, row_stride=tb.hs, tokens=tb.tokens(60),
                             zero=0.3, keep=0.9,
                             tile_length=8)
    vectors, positions = base.sequences[0]
    zeros = np.zeros((10, size), dtype=np.int64)
    # after the 20th token a gap wider than the layouter, as many tokens as positions allow
    # (none when the layouter spans the position range: such a gap cannot occur)
    start = positions[19] + tb.window_vectors + 5
    far = start + np.arange(min(10, max(0, (tb.positions - 1 - start) // 3 + 1))) * 3
    if not far.size:
        dut._log.info("not applicable: a gap wider than the layouter (%d positions, %d slots)",
                      tb.positions, tb.window_vectors)
    sparse = vectors[:far.size].copy()
    sequences = [(zeros[:8], np.arange(8) * 2),                     # one all-zero tile
                 (vectors, positions),
                 (np.concatenate([vectors[:20], sparse]),           # a gap > window_vectors
                  np.concatenate([positions[:20], far])),
                 (zeros[:1], np.array([5]))]
    case = cases.SicCase("zeros-and-gaps", tb.fs, tb.hs, sic.theta_register(0.8), 8, sequences)
    await tb.run(case)
    await tb.run(case, idle=0.4, stall=0.4)
    # A tile spanning more positions than the layouter holds: positions 0..19 and then
    # 64+6 .. 64+17 reuse slots 6..17 inside the tile. The vector at 64+7 is unusable
    # (every lane the format's ``sic.invalid_candidate``: fp16 +inf; int8 zero) and is the
    # only candidate in the window of the key at 64+8: the slot must carry the new vector's
    # flag, not its old occupant's.
    # (Slots are positions modulo window_vectors: 64 stands for any multiple of it >= 24.)
    again = tb.window_vectors * -(-24 // tb.window_vectors)
    if again + 18 > tb.positions:
        dut._log.info("not applicable: slot reuse (%d positions, %d slots)", tb.positions,
                      tb.window_vectors)
        return
    positions = np.concatenate([np.arange(20), again + np.arange(6, 18)])
    values = cases.encode(0.5 + 0.5 * tb.rng.random((positions.size, size)), tb.arith)
    values[21] = tb.arith.sic.invalid_candidate
    wrap = cases.SicCase("slot-reuse", tb.fs, tb.hs, sic.theta_register(0.5), tb.m_tile,
                         [(values, positions)])
    await tb.run(wrap)


@cocotb.test()
async def extreme_operands(dut):
    """int8 -128/127 extremes; fp16 subnormals, signed zeros, 65504, cancelling sums, and
    vectors with infinities or NaN (singleton groups, passed through)."""
    tb = SicTB(dut, 9)
    await tb.reset()
    for number, theta in enumerate([0.5, 0.0, 0.9]):
        case = cases.extreme_operands(tb.rng, arith=tb.arith, vector_size=tb.size,
                                      window=tb.window, frame_stride=tb.fs, row_stride=tb.hs,
                                      tokens=tb.tokens(2 * tb.m_tile + 11), theta=theta,
                                      tile_length=[tb.m_tile, 13, tb.m_tile][number])
        await tb.run(case, idle=0.1 * number, stall=0.2 * number)


@cocotb.test()
async def register_errors_raise_the_flag(dut):
    """A window that does not fit, tile lengths 0 and above m_tile, a missing ``first`` and a
    descending position each raise the sticky error flag; reset clears it."""
    tb = SicTB(dut, 6)
    vectors = cases.encode(cases.random_direction(tb.rng, tb.size, 4), tb.arith)
    # A stride the window uses, as large as the layouter (or the register): the span exceeds
    # the layouter.
    stride = "frame_stride" if tb.window[0] > 1 else "row_stride"
    too_far = min(tb.window_vectors, (1 << len(getattr(dut, stride))) - 1)
    bad = [
        ({stride: too_far}, ERROR_REGISTERS, [0, 1, 2, 3], [1, 0, 0, 1]),
        ({"tile_length": 0}, ERROR_REGISTERS, [0, 1, 2, 3], [1, 0, 0, 1]),
        ({"tile_length": tb.m_tile + 1}, ERROR_REGISTERS, [0, 1, 2, 3], [1, 0, 0, 1]),
        ({}, ERROR_PROTOCOL, [0, 1, 2, 3], [0, 0, 0, 0]),           # no first
        ({}, ERROR_PROTOCOL, [0, 2, 1, 3], [1, 0, 0, 1]),           # descending
    ]
    if tb.window[1] > 1:
        bad.append(({"row_stride": 0}, ERROR_REGISTERS, [0, 1, 2, 3], [1, 0, 0, 1]))
    for change, bit, positions, firsts in bad:
        await tb.reset()
        assert int(dut.error.value) == 0, "reset does not clear the error flag"
        registers = {"frame_stride": tb.fs, "row_stride": tb.hs, "theta2": 0, "tile_length": 4}
        registers.update(change)
        for name, value in registers.items():
            getattr(dut, name).value = value
        maps = StreamSink(dut, "map", dut.clk)
        uniques = StreamSink(dut, "unique", dut.clk)
        tasks = [cocotb.start_soon(maps.run()), cocotb.start_soon(uniques.run())]
        source = StreamSource(dut, "vectors", dut.clk)
        data_bits = tb.size * tb.width
        await source.send([pack(vectors[i], tb.width) | (positions[i] << data_bits)
                           | (firsts[i] << (data_bits + tb.position_bits))
                           | (int(i == 3) << (data_bits + tb.position_bits + 1))
                           for i in range(4)])
        await ClockCycles(dut.clk, 200)
        for task in tasks:
            task.cancel()
        assert int(dut.error.value) & bit, \
            f"{change or 'protocol'} {positions} {firsts}: error flag {dut.error.value}"
    await tb.reset()
    assert int(dut.error.value) == 0, "reset does not clear the error flag"


@cocotb.test()
async def reset_in_mid_tile(dut):
    """Reset while a tile is being matched and drained; the next run must be exact."""
    tb = SicTB(dut, 7)
    await tb.reset()
    case = cases.copy_chains(tb.rng, arith=tb.arith, vector_size=tb.size, window=tb.window,
                             frame_stride=tb.fs, row_stride=tb.hs, tokens=tb.tokens(2 * tb.m_tile),
                             tile_length=tb.m_tile)
    tb.registers(case)
    source = StreamSource(tb.dut, "vectors", tb.dut.clk)
    sink = StreamSink(tb.dut, "map", tb.dut.clk, stall=0.5, rng=random.Random(3))
    tasks = [cocotb.start_soon(source.send(tb.beats(case.sequences))),
             cocotb.start_soon(sink.run())]
    await ClockCycles(dut.clk, tb.m_tile * 8 + 20)
    for task in tasks:
        task.cancel()
    await tb.reset()
    await tb.run(case, idle=0.1, stall=0.1)
