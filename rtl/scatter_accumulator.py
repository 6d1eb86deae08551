"""Scatter accumulator: adds unique-vector partial sums into every token row mapped to them."""

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import enum, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import map_beat, tile_vector
from .parameters import check_int
from .pipeline import delay
from .queue import StreamQueue


class ScatterError(enum.Enum, shape=4):
    """Bits of the sticky ``error`` port of :class:`ScatterAccumulator`."""
    BAD_TOKENS = 0        #: ``tokens`` outside [1, m_tile] or ``slices`` == 0 (clamped)
    TABLE_OVERFLOW = 1    #: more than m_tile partial-sum vectors in one slice (extra dropped)
    BAD_GROUP = 2         #: a map entry names a group the slice did not produce (adds zero)
    MISPLACED_LAST = 3    #: a map ``last`` marker not on the slice's final beat


class ScatterAccumulator(wiring.Component):
    """Accumulates one output tile of ``tokens x cols`` over ``slices`` K-slices.

    For K-slice ``k`` the array delivers the partial sums ``P_k[g]`` of the slice's unique
    vectors ``g = 0, 1, ...`` (one fold, ``first`` .. ``last``), and the map stream gives, for
    every token ``t`` of the tile in order, the group ``map_k[t]`` or ZERO. The accumulator
    computes ``out[t] = (((0 + P_0[map_0[t]]) + P_1[map_1[t]]) + ...)`` in slice order with
    the format's adder, skipping ZERO entries, and after the last slice streams the tile out
    row by row.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Accumulator format (its ``add``).
    cols : int
        Columns of a partial-sum vector (the array's ``cols``).
    m_tile : int
        Largest tile (tokens); also the largest number of unique vectors per slice.
    lanes : int
        Map entries (output rows) updated per cycle.

    Ports
    -----
    tokens : In(range(m_tile + 1)), slices : In(16)
        Runtime registers: tokens in the tile, K-slices per tile. Sampled when the tile's first
        slice of partial sums is complete; out-of-range values are clamped to [1, m_tile] and
        [1, 65535] and raise ``BAD_TOKENS``.
    psums : In(stream.Signature(tile_vector(accumulator, cols)))
        The array's output. Two slice buffers: slice ``k+1`` fills while ``k`` scatters;
        ``ready`` drops (stalling the array) while both are in use.
    maps : In(stream.Signature(map_beat(m_tile, lanes)))
        ``ceil(tokens / lanes)`` beats per slice, token ``lanes*i + j`` in entry ``j`` of beat
        ``i``; entries past ``tokens`` are ignored; ``last`` on the slice's final beat.
    out : Out(stream.Signature(tile_vector(accumulator, cols)))
        The finished tile, ``tokens`` rows in token order, ``first``/``last`` marked.
    error : Out(len(ScatterError))
        Sticky error bits, see :class:`ScatterError`; cleared by reset.
    busy_cycles, stall_cycles : Out(32)
        Cycles with a map beat accepted; cycles a slice buffer was full while the array offered
        a partial sum (array stalled by the scatter).

    Timing
    ------
    Scatter of a slice: ``ceil(tokens / lanes)`` cycles; it starts once the slice's last
    partial sum arrived. Consecutive slices follow without a bubble when a slice has more
    than ``add_latency + 3`` beats; shorter slices wait for the pipeline to drain. The
    read-out of a tile (one row per cycle, through a second read port of the tile banks)
    starts with the tile's last slice and follows its write-backs; the next tile's first
    slice (which only writes) follows the read pointer, so with ``tokens / lanes`` or more
    cycles of later slices the read-out costs no scatter cycles. A tile's last slice starts
    only when the previous read-out has ended (this matters for one-slice tiles).
    """

    def __init__(self, fmt, *, cols, m_tile, lanes):
        for name, value in (("cols", cols), ("m_tile", m_tile), ("lanes", lanes)):
            check_int("ScatterAccumulator", name, value)
        self.fmt, self.cols, self.m_tile, self.lanes = fmt, cols, m_tile, lanes
        vector = tile_vector(fmt.accumulator_shape, cols)
        super().__init__({
            "tokens": In(range(m_tile + 1)),
            "slices": In(16),
            "psums": In(stream.Signature(vector)),
            "maps": In(stream.Signature(map_beat(m_tile, lanes))),
            "out": Out(stream.Signature(vector)),
            "error": Out(len(ScatterError)),
            "busy_cycles": Out(32),
            "stall_cycles": Out(32),
        })

    @property
    def drain_cycles(self):
        """Depth of the read-add-write pipeline: read, registered reads, the adder."""
        return self.fmt.add_latency + 3

    def elaborate(self, platform):
        m = Module()
        fmt, cols, lanes, m_tile = self.fmt, self.cols, self.lanes, self.m_tile
        row_shape = self.psums.payload.data.shape()
        rows_per_bank = -(-m_tile // lanes)
        errors = Signal(len(ScatterError))
        m.d.comb += self.error.eq(errors)

        def flag(cause):
            return errors.eq(errors | (1 << cause.value))

        # --- slice buffers: partial sums of the unique vectors of two K-slices ------------
        m.submodules.slice_buffer = slice_buffer = memory.Memory(
            shape=row_shape, depth=2 * max(m_tile, 2), init=[])
        full = Signal(2)                 # buffer holds a complete slice not yet scattered
        fill_bank = Signal()
        fill_count = Signal(range(m_tile + 1))
        bank_count = [Signal(range(m_tile + 1), name=f"bank{b}_count") for b in range(2)]
        fill_port = slice_buffer.write_port()
        m.d.comb += self.psums.ready.eq(~full.bit_select(fill_bank, 1))
        psum_beat = self.psums.valid & self.psums.ready
        m.d.comb += [
            fill_port.addr.eq(fill_bank * max(m_tile, 2) + fill_count),
            fill_port.data.eq(self.psums.payload.data),
            fill_port.en.eq(psum_beat & (fill_count < m_tile)),
        ]
        with m.If(psum_beat):
            with m.If(fill_count == m_tile):
                m.d.sync += flag(ScatterError.TABLE_OVERFLOW)
            with m.If(self.psums.payload.last):
                m.d.sync += [fill_count.eq(0), fill_bank.eq(~fill_bank)]
                with m.Switch(fill_bank):
                    for b in range(2):
                        with m.Case(b):
                            m.d.sync += bank_count[b].eq(
                                fill_count + (fill_count < m_tile))
            with m.Elif(fill_count < m_tile):
                m.d.sync += fill_count.eq(fill_count + 1)
        with m.If(self.psums.valid & ~self.psums.ready):
            m.d.sync += self.stall_cycles.eq(self.stall_cycles + 1)

        # --- output tile: `lanes` banks, token t at bank t % lanes, row t // lanes ----------
        tile_banks = []
        for j in range(lanes):
            bank = m.submodules[f"tile_bank{j}"] = memory.Memory(
                shape=row_shape, depth=max(rows_per_bank, 2), init=[])
            # (accumulate read, write, read-out read)
            tile_banks.append((bank.read_port(domain="sync"), bank.write_port(),
                               bank.read_port(domain="sync")))

        # --- tile sequencing ------------------------------------------------------------------
        tokens = Signal.like(self.tokens)
        slices = Signal.like(self.slices)
        slice_index = Signal(16)
        scatter_bank = Signal()
        beat_index = Signal(range(rows_per_bank + 1))
        beats = Signal(range(rows_per_bank + 1))
        m.d.comb += beats.eq((tokens + lanes - 1) // lanes)
        in_flight = Signal(range(self.drain_cycles + 2))
        emitting = Signal()             # a tile is being read out
        emit_index = Signal(range(m_tile + 1))
        emit_tokens = Signal.like(tokens)
        emit_live = Signal()            # ... while its last slice is still being added
        final_rows = Signal(range(rows_per_bank + 1))   # rows of it written by the last slice

        m.submodules.out_fifo = out_fifo = StreamQueue(   # 8 covers its 3-cycle round trip
            self.out.payload.shape(), depth=8)
        wiring.connect(m, out_fifo.o, wiring.flipped(self.out))

        # A slice of more beats than the read-add-write pipeline is deep can follow the
        # previous one without a bubble: its first beat re-reads a row written long before.
        long_slice = Signal()
        no_hazard = Signal()
        m.d.comb += [long_slice.eq(beats > self.drain_cycles),
                     no_hazard.eq(long_slice | (in_flight == 0))]
        last_slice = slice_index == slices - 1
        map_beat_ok = Signal()          # a map beat is accepted this cycle
        read_issue = Signal()           # output phase: a tile row read is issued this cycle
        read_pending = Signal()         # ... and its data arrives this cycle
        m.d.sync += read_pending.eq(read_issue)
        with m.FSM(name="phase"):
            with m.State("START"):
                # Registers are sampled when the tile's first slice is complete; values out
                # of range are clamped (tokens to [1, m_tile], slices to >= 1) and flagged.
                m.d.sync += [slice_index.eq(0), beat_index.eq(0)]
                with m.If(full.bit_select(scatter_bank, 1)):
                    m.d.sync += [
                        tokens.eq(Mux(self.tokens == 0, 1,
                                      Mux(self.tokens > m_tile, m_tile, self.tokens))),
                        slices.eq(Mux(self.slices == 0, 1, self.slices)),
                    ]
                    with m.If((self.tokens == 0) | (self.tokens > m_tile) |
                              (self.slices == 0)):
                        m.d.sync += flag(ScatterError.BAD_TOKENS)
                    m.next = "SCATTER"
            with m.State("WAIT_SLICE"):
                with m.If(full.bit_select(scatter_bank, 1) & no_hazard):
                    m.next = "SCATTER"
            with m.State("SCATTER"):
                # The read-out of a tile starts with its last slice and follows that slice's
                # write-backs (its own read port), so it overlaps the last slice and the next
                # tile's first slice. The first slice only writes (it adds to zero): it runs
                # behind the read pointer. A last slice starts when no read-out is running.
                behind = emit_index >= (beat_index + 1) * lanes
                go = Mux(last_slice & (beat_index == 0), ~emitting,
                         Mux((slice_index == 0) & ~last_slice, ~emitting | behind, 1))
                m.d.comb += [self.maps.ready.eq(go), map_beat_ok.eq(self.maps.valid & go)]
                with m.If(map_beat_ok & last_slice & (beat_index == 0)):
                    m.d.sync += [emitting.eq(1), emit_live.eq(1), emit_index.eq(0),
                                 emit_tokens.eq(tokens), final_rows.eq(0)]
                with m.If(map_beat_ok):
                    m.d.sync += self.busy_cycles.eq(self.busy_cycles + 1)
                    final = beat_index == beats - 1
                    with m.If(self.maps.payload.last != final):
                        m.d.sync += flag(ScatterError.MISPLACED_LAST)
                    m.d.sync += beat_index.eq(beat_index + 1)
                    with m.If(final):
                        m.d.sync += [beat_index.eq(0), slice_index.eq(slice_index + 1),
                                     scatter_bank.eq(~scatter_bank)]
                        m.d.sync += full.bit_select(scatter_bank, 1).eq(0)
                        with m.If(last_slice):
                            m.next = "DRAIN"
                        with m.Elif(~full.bit_select(~scatter_bank, 1) | ~long_slice):
                            m.next = "WAIT_SLICE"
            with m.State("DRAIN"):
                with m.If(in_flight == 0):
                    m.d.sync += emit_live.eq(0)
                    m.next = "START"

        # --- read-out: rows the last slice has written, in token order ----------------------
        room = out_fifo.level + read_pending < out_fifo.depth - 1
        final_tokens = Mux(emit_live, final_rows * lanes, emit_tokens)
        with m.If(emitting & room & (emit_index < emit_tokens) & (emit_index < final_tokens)):
            m.d.comb += read_issue.eq(1)
            m.d.sync += emit_index.eq(emit_index + 1)
        with m.If(emitting & (emit_index == emit_tokens) & ~read_pending):
            m.d.sync += emitting.eq(0)

        # A slice buffer becomes full when its fold's last partial sum arrives, and free
        # again when the scatter accepted the slice's final map beat.
        with m.If(psum_beat & self.psums.payload.last):
            m.d.sync += full.bit_select(fill_bank, 1).eq(1)

        # --- scatter pipeline: read, register, add (add_latency), write back --------------
        groups = self.maps.payload.entries
        slice_reads = [slice_buffer.read_port(domain="sync") for _ in range(lanes)]
        produced = Signal(range(m_tile + 1))     # unique vectors of the slice being scattered
        m.d.comb += produced.eq(Mux(scatter_bank, bank_count[1], bank_count[0]))
        lane_write = Signal(lanes)               # stage 1: lane holds a token of the tile
        lane_keep = Signal(lanes)                # stage 1: ZERO entry, keep the old value
        first_slice = Signal()
        stage_row = Signal.like(beat_index)
        emit_row = emit_index // lanes
        for j in range(lanes):
            entry = groups[j]
            token_ok = beat_index * lanes + j < tokens
            bad_group = ~entry.zero & (entry.group >= produced)
            with m.If(map_beat_ok & token_ok & bad_group):
                m.d.sync += flag(ScatterError.BAD_GROUP)
            m.d.comb += [
                slice_reads[j].addr.eq(scatter_bank * max(m_tile, 2) + entry.group),
                tile_banks[j][0].addr.eq(beat_index),
                tile_banks[j][2].addr.eq(emit_row),
            ]
            m.d.sync += [
                lane_write[j].eq(map_beat_ok & token_ok),
                lane_keep[j].eq(entry.zero | bad_group),
            ]
        stage_final = Signal()                  # stage 1: a beat of the tile's last slice
        m.d.sync += [first_slice.eq(slice_index == 0), stage_row.eq(beat_index),
                     stage_final.eq(map_beat_ok & last_slice)]

        # Stage 2 registers both memory reads (the tile row zeroed for a tile's first slice),
        # so the adders start from flip-flops, as the array's do.
        zero = Const(fmt.accumulator_zero, fmt.accumulator_shape)
        latency = fmt.add_latency + 1
        for j in range(lanes):
            old = Signal(row_shape, name=f"old{j}")
            psum = Signal(row_shape, name=f"psum{j}")
            summed = Signal(row_shape, name=f"sum{j}")
            for c in range(cols):
                m.d.sync += [old[c].eq(Mux(first_slice, zero, tile_banks[j][0].data[c])),
                             psum[c].eq(slice_reads[j].data[c])]
                m.d.comb += summed[c].eq(fmt.add(m, old[c], psum[c], 1))
            kept = delay(m, old, fmt.add_latency, name=f"kept{j}")
            keep = delay(m, lane_keep[j], latency, name=f"keep{j}")
            port = tile_banks[j][1]
            m.d.comb += [
                port.addr.eq(delay(m, stage_row, latency, name=f"row{j}")),
                port.data.eq(Mux(keep, kept.as_value(), summed.as_value())),
                port.en.eq(delay(m, lane_write[j], latency, name=f"write{j}")),
            ]

        # pipeline occupancy, for the hand-over between slices and to the output phase
        leaving = delay(m, lane_write.any(), latency, name="leaving")
        m.d.sync += in_flight.eq(in_flight + map_beat_ok - leaving)
        with m.If(delay(m, stage_final, latency, name="final_write")):
            m.d.sync += final_rows.eq(final_rows + 1)

        # --- output phase: the row read last cycle enters the FIFO ------------------------
        emit_lane = Signal(range(max(lanes, 2)))
        emit_count = Signal.like(emit_index)
        with m.If(read_issue):
            m.d.sync += [emit_lane.eq(emit_index % lanes), emit_count.eq(emit_index)]
        row = Signal(self.out.payload.shape())
        m.d.comb += [
            row.data.eq(Array(tile_banks[j][2].data for j in range(lanes))[emit_lane]),
            row.first.eq(emit_count == 0),
            row.last.eq(emit_count == emit_tokens - 1),
            out_fifo.i.payload.eq(row),
            out_fifo.i.valid.eq(read_pending),
        ]
        return m
