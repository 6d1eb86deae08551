"""SIC gather unit for one output-tile slot: layouter, similarity matcher and collector."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith.dot_product import fold_widths
from .arith.rounded_mean import RoundedMean
from .collector import Collector, collector_storage, zero_code
from .hierarchy import INLINE
from .layouter import Layouter, beats_for, candidate_grid, layouter_storage, slot_bits_for
from .layouts import map_layout, tile_vector, vector_layout
from .parameters import check_choice, check_int, check_window, divisors
from .similarity_matcher import THETA_BITS, SimilarityMatcher


class SicError(enum.Enum, shape=2):
    """Bit positions of the sticky ``error`` port of :class:`SimilarityGather`."""
    REGISTERS = 0   #: at a tile start: the window does not fit window_vectors, a stride the
                    #: window uses is 0, or tile_length is outside [1, m_tile] (clamped)
    PROTOCOL = 1    #: ``first`` missing after reset / ``last``, or present inside a sequence;
                    #: or a position not strictly above the previous one in the tile


class SimilarityGather(wiring.Component):
    """Similarity concentration (spec 2.3) of one vector slot, tile by tile.

    Consumes a sequence of tokens (``first`` .. ``last``) in ascending original position,
    each with its ``V``-element vector of the slot, and cuts it into tiles of
    ``tile_length`` tokens (the last one may be shorter). For each tile it emits the compact
    table of group representatives on ``unique`` and one similarity-map code per token on
    ``map`` (the group's compact index, or :attr:`zero_code` for an all-zero vector). Pruned
    positions are simply absent from the input. The decision per key follows spec 2.3 with
    the exact arithmetic of spec 3.2 described in ``SimilarityMatcher``; the representatives
    are the correctly rounded means of the members (``RoundedMean``). ``golden.sic.gather``
    is the bit-exact model.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Operand format (int8 or fp16).
    vector_size : int
        V (the array's ``rows``).
    m_tile : int
        Largest tile; table, map and compact-index range.
    window : tuple of 3 int
        (bf, bh, bw); ``C = bf*bh*bw - 1`` candidates per key.
    window_vectors : int
        Layouter capacity in positions.
    matchers : int
        Items (the key's norm and its candidates) compared per beat, in [1, C].
    position_bits : int
        Width of a position.
    matcher_width : int, optional
        Multipliers per matcher (default V): each dot product is folded over
        ``V / matcher_width`` cycles (``rtl.arith.dot_product.fold_widths``).
    collector_lanes : int, optional
        Means the collector computes per cycle (default V, a divisor of V): the drain takes
        ``V / collector_lanes`` cycles per representative.
    hierarchy : rtl.hierarchy.Hierarchy
        Builds the layouter, matcher and collector (inline by default).

    Ports
    -----
    vectors : In(stream.Signature(vector_layout(operand, V, position_bits)))
        Tokens in ascending position order; ``first`` on a sequence's first token, ``last``
        on its last one.
    frame_stride, row_stride : In(position_bits)
    theta2 : In(16)
    tile_length : In(range(m_tile + 1))
        Runtime registers: FS, HS, theta**2 in unsigned Q0.16 (``golden.sic.theta_register``)
        and tokens per tile. Sampled when a tile's first token is accepted; a value the
        hardware cannot honour raises ``SicError.REGISTERS``.
    unique : Out(stream.Signature(tile_vector(operand, V)))
        A tile's representatives in order of first appearance, ``first``/``last`` marked (no
        beat for a tile of all-zero vectors).
    map : Out(stream.Signature(map_layout(m_tile)))
        A tile's map codes in token order, ``first``/``last`` marked.
    error : Out(len(SicError))
        Sticky error bits (:class:`SicError`); outputs are not trustworthy once set. Reset
        clears them.

    Timing
    ------
    One key every :attr:`cycles_per_key` ``= G * V / matcher_width`` cycles, with
    ``G = ceil((C + 1) / matchers)`` beats (the key's own norm is one item besides its ``C``
    candidates: 8 beats for the default window and one matcher, 1 for eight). Map codes
    leave as the keys are decided (a FIFO of ``m_tile`` codes; the input stalls when it is
    full). A tile's representatives are drained after its last key (:attr:`flush_cycles`
    later), one per ``V / collector_lanes`` cycles, while the next tile already runs behind
    the drain's read pointer: the next tile's first key waits for the flush, and its key of
    row ``j`` for the drain to pass group ``j``, so a tile costs about
    ``max(cycles_per_key, V / collector_lanes) * tokens + flush_cycles`` cycles back to
    back.
    """

    def __init__(self, fmt, *, vector_size, m_tile, window, window_vectors, matchers,
                 position_bits, matcher_width=None, collector_lanes=None, hierarchy=INLINE):
        for name, value in (("vector_size", vector_size), ("m_tile", m_tile),
                            ("window_vectors", window_vectors),
                            ("position_bits", position_bits)):
            check_int("SimilarityGather", name, value)
        window = check_window("SimilarityGather", window)
        check_int("SimilarityGather", "matchers", matchers, high=len(candidate_grid(window)))
        context = f"for vector_size {vector_size}"
        self.matcher_width = check_choice(
            "SimilarityGather", "matcher_width",
            vector_size if matcher_width is None else matcher_width,
            fold_widths(vector_size), context)
        self.chunks = vector_size // self.matcher_width
        self.collector_lanes = check_choice(
            "SimilarityGather", "collector_lanes",
            vector_size if collector_lanes is None else collector_lanes,
            divisors(vector_size), context)
        self.fmt = fmt
        self.vector_size = vector_size
        self.m_tile = m_tile
        self.window = window
        self.window_vectors = window_vectors
        self.matchers = matchers
        self.position_bits = position_bits
        self.numbers = fmt.sic_numbers(vector_size=vector_size, m_tile=m_tile)
        self.zero_code = zero_code(m_tile)
        super().__init__({
            "vectors": In(stream.Signature(vector_layout(fmt.operand_shape, vector_size,
                                                         position_bits))),
            "frame_stride": In(position_bits),
            "row_stride": In(position_bits),
            "theta2": In(THETA_BITS),
            "tile_length": In(range(m_tile + 1)),
            "unique": Out(stream.Signature(tile_vector(fmt.operand_shape, vector_size))),
            "map": Out(stream.Signature(map_layout(m_tile))),
            "error": Out(len(SicError)),
        })
        self.slot_bits = slot_bits_for(window_vectors)
        self.matcher_latency = SimilarityMatcher.latency_of(
            fmt, vector_size=vector_size, lanes=matchers, beats_per_key=self.beats_per_key,
            chunks=self.chunks)
        self.key_depth = self._key_depth(self.matcher_latency, self.cycles_per_key)
        self.layouter = hierarchy.build(
            Layouter, self.numbers, vector_size=vector_size, window=window,
            window_vectors=window_vectors, lanes=matchers, position_bits=position_bits,
            m_tile=m_tile, chunks=self.chunks)
        self.matcher = hierarchy.build(
            SimilarityMatcher, self.numbers, vector_size=vector_size, lanes=matchers,
            slot_bits=self.slot_bits, m_tile=m_tile, beats_per_key=self.beats_per_key,
            chunks=self.chunks)
        self.collector = hierarchy.build(
            Collector, self.numbers, vector_size=vector_size, slot_bits=self.slot_bits,
            m_tile=m_tile, key_depth=self.key_depth, lanes=self.collector_lanes)

    @staticmethod
    def _key_depth(matcher_latency, cycles_per_key):
        """Capacity of the collector's key FIFO: the keys between the layouter and the
        verdict."""
        return (matcher_latency + 2) // cycles_per_key + 2

    def register_errors(self, *, frame_stride, row_stride, theta2, tile_length):
        """Why the hardware would raise its error flag for these runtime registers.

        The Python side of the runtime check: an empty list means the registers are fine.
        """
        errors = []
        for name, value, bits in (("frame_stride", frame_stride, self.position_bits),
                                  ("row_stride", row_stride, self.position_bits),
                                  ("theta2", theta2, THETA_BITS)):
            if not 0 <= value < 1 << bits:
                errors.append(f"{name} {value} does not fit the {bits}-bit register")
        frames, rows, cols = self.window
        if frames > 1 and frame_stride < 1:
            errors.append(f"frame stride {frame_stride} must be >= 1 for window {self.window}")
        if rows > 1 and row_stride < 1:
            errors.append(f"row stride {row_stride} must be >= 1 for window {self.window}")
        span = (frames - 1) * frame_stride + (rows - 1) * row_stride + cols
        if span > self.window_vectors:
            errors.append(f"window {self.window} with frame stride {frame_stride} and row "
                          f"stride {row_stride} spans {span} positions; the layouter holds "
                          f"window_vectors = {self.window_vectors}")
        if not 1 <= tile_length <= self.m_tile:
            errors.append(f"tile length {tile_length} must be in [1, m_tile = {self.m_tile}]")
        return errors

    def check_registers(self, **registers):
        """Raise ``ValueError`` with every reason the runtime registers are unusable."""
        errors = self.register_errors(**registers)
        if errors:
            raise ValueError("SimilarityGather: " + "; ".join(errors))

    @property
    def beats_per_key(self):
        """Beats per key: ``G = ceil((C + 1) / matchers)``."""
        return beats_for(self.window, self.matchers)

    @property
    def cycles_per_key(self):
        """Cycles per key: ``G * V / matcher_width``."""
        return self.beats_per_key * self.chunks

    @property
    def flush_cycles(self):
        """Cycles from accepting a tile's last key until its drain starts."""
        return 1 + self.matcher_latency + 3

    @property
    def drain_latency(self):
        """Cycles from a group's table read to its representative entering the output."""
        return 1 + RoundedMean.latency_of(self.numbers)

    @property
    def storage_bits(self):
        """Bits of every memory of the unit (layouter and collector)."""
        layouter = layouter_storage(self.numbers, vector_size=self.vector_size,
                                    window_vectors=self.window_vectors)
        collector = collector_storage(self.numbers, vector_size=self.vector_size,
                                      slot_bits=self.slot_bits, m_tile=self.m_tile,
                                      key_depth=self.key_depth)
        bits = {f"layouter {key}": value for key, value in layouter.items()}
        bits.update({f"collector {key}": value for key, value in collector.items()})
        return bits

    def elaborate(self, platform):
        m = Module()
        m.submodules.layouter = layouter = self.layouter
        m.submodules.matcher = matcher = self.matcher
        m.submodules.collector = collector = self.collector
        m_tile = self.m_tile
        frames, rows, cols = self.window
        beat = self.vectors.payload

        # --- tiles within the sequence, register sampling, checks --------------------------
        index = Signal(range(m_tile))              # row of the next token in its tile
        expect_first = Signal(init=1)
        previous_position = Signal(self.position_bits)
        latched_fs = Signal(self.position_bits)
        latched_hs = Signal(self.position_bits)
        latched_theta = Signal(THETA_BITS)
        latched_length = Signal(range(m_tile + 1))
        accept = self.vectors.valid & self.vectors.ready
        tile_first = index == 0
        starting = accept & tile_first
        length_live = Mux(self.tile_length == 0, 1,
                          Mux(self.tile_length > m_tile, m_tile, self.tile_length))
        length = Mux(tile_first, length_live, latched_length)
        tile_last = beat.last | (index == length - 1)
        with m.If(starting):
            m.d.sync += [
                latched_fs.eq(self.frame_stride),
                latched_hs.eq(self.row_stride),
                latched_theta.eq(self.theta2),
                latched_length.eq(length_live),
            ]
        with m.If(accept):
            m.d.sync += [
                index.eq(Mux(tile_last, 0, index + 1)),
                expect_first.eq(beat.last),
                previous_position.eq(beat.position),
            ]

        span = (frames - 1) * self.frame_stride + (rows - 1) * self.row_stride + cols
        bad_registers = (span > self.window_vectors) \
            | ((self.tile_length == 0) | (self.tile_length > m_tile))
        if frames > 1:
            bad_registers = bad_registers | (self.frame_stride == 0)
        if rows > 1:
            bad_registers = bad_registers | (self.row_stride == 0)
        bad_protocol = (beat.first != expect_first) \
            | (~tile_first & (beat.position <= previous_position))
        with m.If(starting & bad_registers):
            m.d.sync += self.error[SicError.REGISTERS.value].eq(1)
        with m.If(accept & bad_protocol):
            m.d.sync += self.error[SicError.PROTOCOL.value].eq(1)

        # --- admission: the map FIFO and the drain of the previous tile ----------------------
        # ``pending``: a tile's last key was accepted and its table is not yet fully read by
        # the drain. The next tile's key of row j (it can open at most group j) enters only
        # once the drain has read group j, and its last key only after the drain: the table
        # is shared by the tile being drained and the tile being built.
        pending = Signal()
        next_pending = Mux(accept & tile_last, 1, Mux(collector.drain_done, 0, pending))
        m.d.sync += pending.eq(next_pending)
        outstanding = Signal(range(m_tile + 1))    # accepted keys whose code has not left
        map_out = self.map.valid & self.map.ready
        next_outstanding = outstanding + accept - map_out
        m.d.sync += outstanding.eq(next_outstanding)
        # A tile's first key enters only once the previous tile's drain has started, i.e.
        # after that tile's last verdict: the matcher never holds keys of two tiles, so the
        # registers latched at a tile start (theta2 is used late in the matcher) are safe.
        # The decision is registered (computed from the next state and this cycle's drain
        # pointer, which only grows while it matters), so it does not lengthen the layouter's
        # input path; only a key marked ``last`` by the stream combines with ``pending``.
        next_index = Mux(accept, Mux(tile_last, 0, index + 1), index)
        next_length = Mux(next_index == 0, length_live,
                          Mux(starting, length_live, latched_length))
        next_last_by_length = next_index == next_length - 1
        admit_registered = Signal()
        m.d.sync += admit_registered.eq(
            (next_outstanding < m_tile)
            & (~next_pending | (~next_last_by_length & (next_index < collector.drain_read))))
        admit = admit_registered & ~(beat.last & pending)

        # --- wiring ------------------------------------------------------------------------
        keys = layouter.keys
        m.d.comb += [
            keys.valid.eq(self.vectors.valid),
            self.vectors.ready.eq(keys.ready),
            keys.payload.data.eq(beat.data),
            keys.payload.position.eq(beat.position),
            keys.payload.index.eq(index),
            keys.payload.tile_first.eq(tile_first),
            keys.payload.tile_last.eq(tile_last),
            layouter.hold.eq(~admit),
            layouter.frame_stride.eq(Mux(starting, self.frame_stride, latched_fs)),
            layouter.row_stride.eq(Mux(starting, self.row_stride, latched_hs)),
            matcher.theta2.eq(latched_theta),
            layouter.norm_write_slot.eq(matcher.norm_write_slot),
            layouter.norm_write_data.eq(matcher.norm_write_data),
            layouter.norm_write_en.eq(matcher.norm_write_en),
            layouter.norm_read_slot.eq(matcher.norm_read_slot),
            matcher.norm_read_data.eq(layouter.norm_read_data),
            # a key's vector, once: on its first transfer (first beat, chunk 0)
            collector.keys.valid.eq(layouter.groups.valid & layouter.groups.payload.first
                                    & (layouter.groups.payload.chunk == 0
                                       if self.chunks > 1 else 1)),
            collector.keys.payload.eq(layouter.groups.payload.key),
        ]
        wiring.connect(m, layouter.groups, matcher.groups)
        wiring.connect(m, matcher.decisions, collector.decisions)
        wiring.connect(m, wiring.flipped(self.unique), collector.unique)
        wiring.connect(m, wiring.flipped(self.map), collector.map)
        return m
