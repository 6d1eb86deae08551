"""SIC layouter: the recent vectors of a tile slot, addressed by their original position."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import group_layout, key_layout
from .parameters import check_int


def slot_bits_for(window_vectors):
    """Width of a slot index of a layouter with ``window_vectors`` slots."""
    return max(1, (window_vectors - 1).bit_length())


def beats_for(window, lanes):
    """Beats per key: ``ceil((C + 1) / lanes)`` (the key's own squared norm is one more
    item, item 0, besides its ``C`` candidates)."""
    return -(-(len(candidate_grid(window)) + 1) // lanes)


def layouter_storage(numbers, *, vector_size, window_vectors):
    """Bits of each storage element of a layouter."""
    fmt = numbers.fmt
    return {
        "vectors": window_vectors * vector_size * fmt.operand_width,
        "norms": window_vectors * fmt.accumulator_width,
        "valid": window_vectors,
    }


def candidate_grid(window):
    """``(df, dh, dw)`` of every candidate in comparison (tie-break) order."""
    frames, rows, cols = window
    return [(f, r, c) for f in range(frames) for r in range(rows) for c in range(cols)][1:]


class Layouter(wiring.Component):
    """Holds the most recent ``window_vectors`` positions of a tile slot and reads candidates.

    Storage is one circular buffer of ``window_vectors`` vector slots (plus a squared-norm
    memory of the same depth written by the matcher and a valid bit per slot). Positions map
    to slots relatively: a key ``d`` positions after the previous one goes ``d`` slots
    further (modulo ``window_vectors``) and the ``d - 1`` slots in between, the pruned
    positions, are marked invalid; a gap of at least ``window_vectors`` positions or a new
    tile clears every slot. Hence the slot ``o`` places before the key holds the token at
    position ``key - o`` whenever one was retained in the same tile, for every offset
    ``o < window_vectors`` - the runtime window fits iff ``(bf-1)*FS + (bh-1)*HS + bw <=
    window_vectors``, which the gather unit checks. All-zero and non-finite vectors are
    stored as invalid slots, since they are never usable candidates.

    Candidates are read ``lanes`` at a time through ``lanes`` read ports of the one buffer
    (each vector is stored once; in SRAM terms the ports are one multi-ported array or
    ``lanes`` replicas of it). A key has ``C + 1`` items: item 0 is the key itself (the
    matcher's dot product of it is the key's squared norm), items ``1 .. C`` are the
    ``C = bf*bh*bw - 1`` candidates in comparison order. They are issued in
    ``G = ceil((C + 1) / lanes)`` beats, item ``g*lanes + k`` on lane ``k`` of beat ``g``;
    every beat is held for ``chunks`` consecutive cycles (transfers ``chunk = 0 ..
    chunks - 1``), while the matcher's folded dot products consume it.

    Parameters
    ----------
    numbers : SicNumbers
        Format hooks (``rtl.arith.sic_numbers``).
    vector_size : int
        V, elements per vector.
    window : tuple of 3 int
        (bf, bh, bw).
    window_vectors : int
        Slots of the circular buffer.
    lanes : int
        Items per beat (the number of matchers).
    position_bits : int
        Width of a position.
    m_tile : int
        Largest tile.
    chunks : int
        Cycles per beat (the matchers' ``V / width``), a power of two.

    Ports
    -----
    keys : In(stream.Signature(key_layout(...)))
        Keys in ascending position order. One key is accepted every ``G`` cycles at most,
        never while ``hold`` is high.
    hold : In(1)
        Accept no key.
    frame_stride, row_stride : In(position_bits)
        FS and HS (must be constant while a tile is in flight).
    groups : Out(stream.Signature(group_layout(...), always_ready=True))
        ``G * chunks`` transfers per key, in consecutive cycles, one cycle after the key was
        accepted. There is no back-pressure: the matcher takes one transfer every cycle.
    norm_write_slot, norm_write_data, norm_write_en : In(slot_bits), In(accumulator), In(1)
        Squared norm of a key, written by the matcher.
    norm_read_slot : In(ArrayLayout(slot_bits, lanes))
    norm_read_data : Out(ArrayLayout(accumulator, lanes))
        Squared norms of candidates, one cycle after the slot (transparent: a norm written in
        the cycle of its read is returned).

    Attributes
    ----------
    beats_per_key : int
        ``G``.
    storage_bits : dict
        Bits of each storage element (vector buffer, norms, valid flags).
    """

    def __init__(self, numbers, *, vector_size, window, window_vectors, lanes, position_bits,
                 m_tile, chunks=1):
        self.numbers = numbers
        self.vector_size = vector_size
        self.window = tuple(window)
        self.window_vectors = window_vectors
        self.lanes = lanes
        self.position_bits = position_bits
        self.m_tile = m_tile
        self.grid = candidate_grid(self.window)
        self.chunks = chunks
        check_int("Layouter", "lanes", lanes, high=len(self.grid), limit="matchers")
        if chunks < 1 or chunks & (chunks - 1):
            raise ValueError(f"Layouter: chunks must be a power of two, got {chunks!r}")
        self.slot_bits = slot_bits_for(window_vectors)
        fmt = numbers.fmt
        super().__init__({
            "keys": In(stream.Signature(key_layout(
                fmt.operand_shape, vector_size, position_bits=position_bits, m_tile=m_tile))),
            "hold": In(1),
            "frame_stride": In(position_bits),
            "row_stride": In(position_bits),
            "groups": Out(stream.Signature(group_layout(
                fmt.operand_shape, vector_size, lanes=lanes, slot_bits=self.slot_bits,
                m_tile=m_tile, chunks=chunks), always_ready=True)),
            "norm_write_slot": In(self.slot_bits),
            "norm_write_data": In(fmt.accumulator_shape),
            "norm_write_en": In(1),
            "norm_read_slot": In(data.ArrayLayout(self.slot_bits, lanes)),
            "norm_read_data": Out(data.ArrayLayout(fmt.accumulator_shape, lanes)),
        })

    @property
    def beats_per_key(self):
        return beats_for(self.window, self.lanes)

    @property
    def storage_bits(self):
        return layouter_storage(self.numbers, vector_size=self.vector_size,
                                window_vectors=self.window_vectors)

    def elaborate(self, platform):
        m = Module()
        numbers, lanes = self.numbers, self.lanes
        depth, slot_bits = self.window_vectors, self.slot_bits
        beats = self.beats_per_key
        fmt = numbers.fmt

        m.submodules.vectors = vectors = memory.Memory(
            shape=data.ArrayLayout(fmt.operand_shape, self.vector_size), depth=depth, init=[])
        m.submodules.norms = norms = memory.Memory(
            shape=fmt.accumulator_shape, depth=depth, init=[])
        vector_write = vectors.write_port()
        vector_reads = [vectors.read_port() for _ in range(lanes)]
        norm_write = norms.write_port()
        norm_reads = [norms.read_port(transparent_for=(norm_write,)) for _ in range(lanes)]
        m.d.comb += [
            norm_write.addr.eq(self.norm_write_slot),
            norm_write.data.eq(self.norm_write_data),
            norm_write.en.eq(self.norm_write_en),
        ]
        for lane, port in enumerate(norm_reads):
            m.d.comb += [
                port.addr.eq(self.norm_read_slot[lane]),
                self.norm_read_data[lane].eq(port.data),
            ]

        # --- key acceptance and the transfer counter ---------------------------------------
        # step = beat * chunks + chunk runs over the key's G * chunks transfers.
        steps = beats * self.chunks
        chunk_bits = (self.chunks - 1).bit_length()
        step = Signal(range(steps), name="step")        # transfer of the key being issued
        issuing = Signal()                               # a key has transfers left to issue
        m.d.comb += self.keys.ready.eq(~self.hold & ~issuing)
        accept = self.keys.valid & self.keys.ready
        with m.If(accept):
            m.d.sync += [issuing.eq(steps > 1), step.eq(1 if steps > 1 else 0)]
        with m.Elif(issuing):
            m.d.sync += step.eq(step + 1)
            with m.If(step == steps - 1):
                m.d.sync += [issuing.eq(0), step.eq(0)]
        current_step = Mux(accept, 0, step)
        current_beat = current_step >> chunk_bits
        active = accept | issuing

        # --- slot of an accepted key, holes, valid flags -------------------------------------
        key = self.keys.payload
        previous_position = Signal(self.position_bits)
        previous_slot = Signal(slot_bits)
        key_slot = Signal(slot_bits)                     # slot of the key being issued
        valid = Signal(depth)                            # slot holds a usable vector
        gap = Signal(self.position_bits)
        m.d.comb += gap.eq(key.position - previous_position)
        restart = key.tile_first | (gap >= depth)
        advanced = Signal(slot_bits + 1)
        m.d.comb += advanced.eq(previous_slot + Mux(restart, 1, gap))
        new_slot = Signal(slot_bits)
        m.d.comb += new_slot.eq(Mux(advanced >= depth, advanced - depth, advanced))
        with m.If(key.tile_first):
            m.d.comb += new_slot.eq(0)
        # Slots strictly between the previous key's slot and the new one (cyclically).
        hole = Signal(depth)
        top = (1 << slot_bits) - 1

        def below(value, j):      # value < j, without comparisons that are constant
            return value < j if j > 0 else Const(0, 1)

        def above(value, j):      # value > j
            return value > j if j < top else Const(0, 1)

        for j in range(depth):
            after_previous = below(previous_slot, j)      # previous slot < j
            before_new = above(new_slot, j)               # j < new slot
            straight = after_previous & before_new
            wrapped = (previous_slot > new_slot) & (after_previous | before_new)
            m.d.comb += hole[j].eq(straight | wrapped)
        remaining = Signal(depth)                        # flags the new key's candidates see
        m.d.comb += remaining.eq(Mux(restart, 0, valid & ~hole))
        usable = ~numbers.is_zero(key.data) & ~numbers.is_special(key.data)
        with m.If(accept):
            m.d.sync += [
                previous_position.eq(key.position),
                previous_slot.eq(new_slot),
                key_slot.eq(new_slot),
                # the new key's slot is overwritten: its flag is the key's own, never the
                # flag of the position window_vectors before that last used the slot
                valid.eq((remaining & ~(1 << new_slot)) | (usable << new_slot)),
            ]
        m.d.comb += [
            vector_write.addr.eq(new_slot),
            vector_write.data.eq(key.data),
            vector_write.en.eq(accept),
        ]
        slot_now = Mux(accept, new_slot, key_slot)
        flags_now = Mux(accept, remaining, valid)
        key_usable = Signal()
        usable_now = Mux(accept, usable, key_usable)
        with m.If(accept):
            m.d.sync += key_usable.eq(usable)

        # --- candidate slots of the current beat ---------------------------------------------
        frame_stride, row_stride = self.frame_stride, self.row_stride
        # item 0 is the key itself (no candidate), item i the candidate of grid entry i - 1
        offsets = [None] + [f * frame_stride + r * row_stride + c for f, r, c in self.grid]
        out = self.groups.payload
        next_valid = Signal(lanes)
        norm_beat = Signal()             # the beat in the output registers carries item 0
        for lane, port in enumerate(vector_reads):
            items = [beat_index * lanes + lane for beat_index in range(beats)]
            offset = Signal(self.position_bits + 4, name=f"offset{lane}")
            for beat_index, item in enumerate(items):
                with m.If(current_beat == beat_index):
                    if 1 <= item < len(offsets):
                        m.d.comb += offset.eq(offsets[item])
            exists = Const(0, 1)
            for beat_index, item in enumerate(items):
                if 1 <= item < len(offsets):
                    exists = exists | (current_beat == beat_index)
            back = Signal(slot_bits + 1, name=f"back{lane}")
            difference = slot_now - offset
            m.d.comb += back.eq(Mux(difference < 0, difference + depth, difference))
            slot = Signal(slot_bits, name=f"slot{lane}")
            m.d.comb += slot.eq(Mux(back < depth, back, 0))
            m.d.comb += [port.addr.eq(slot), port.en.eq(active)]
            m.d.comb += next_valid[lane].eq(exists & flags_now.bit_select(slot, 1) & usable_now)
            with m.If(active):
                m.d.sync += out.slots[lane].eq(slot)
            if lane == 0:        # item 0: the key, against itself
                m.d.comb += out.candidates[lane].eq(Mux(norm_beat, out.key, port.data))
            else:
                m.d.comb += out.candidates[lane].eq(port.data)

        # --- the beat, aligned with the read data ---------------------------------------------
        with m.If(accept):
            m.d.sync += [
                out.key.eq(key.data),
                out.tag.slot.eq(new_slot),
                out.tag.index.eq(key.index),
                out.tag.zero.eq(numbers.is_zero(key.data)),
                out.tag.tile_last.eq(key.tile_last),
            ]
        m.d.sync += [
            self.groups.valid.eq(active),
            out.valid.eq(next_valid),
            out.first.eq(active & (current_beat == 0)),
            out.last.eq(active & (current_beat == beats - 1)),
            norm_beat.eq(active & (current_beat == 0)),
        ]
        if self.chunks > 1:
            m.d.sync += out.chunk.eq(current_step[:chunk_bits])
        return m
