"""FocusEngine: one GEMM output tile, from unique input vectors to unique output vectors + map."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .hierarchy import INLINE
from .layouts import map_beat, map_layout, tile_vector
from .queue import StreamQueue
from .output_converter import OutputConverter
from .scatter_accumulator import ScatterAccumulator, ScatterError
from .similarity_gather import SicError, SimilarityGather
from .similarity_matcher import THETA_BITS
from .systolic_array import SystolicArray


class FocusEngine(wiring.Component):
    """Systolic array -> scatter accumulator -> output conversion -> SIC gather.

    For each of ``slices`` K-slices the engine takes one weight tile (``rows x cols``), the
    slice's unique input vectors (one fold) and, in concentrated mode, the slice's similarity
    map; the array computes one partial-sum vector per unique vector, the scatter accumulator
    adds it into every token row mapped to it, and after the last slice the tile is converted
    to the output format into a tile buffer (``m_tile`` rows), from which the SIC gather
    (``SimilarityGather`` with ``V = cols``) concentrates it again: the tile leaves as its
    unique output vectors on ``unique`` and one map code per token on ``map``. The tile buffer
    decouples the gather from the scatter, so the gather of tile ``i`` overlaps tile
    ``i + 1``. In dense mode (``dense = 1``) the maps are generated internally as the identity
    (token ``t`` uses vector ``t``) and nothing is gathered: every converted row leaves on
    ``unique`` and ``map`` stays silent - the same hardware runs the uncompressed baseline.

    Parameters
    ----------
    fmt : ArithmeticFormat
    rows, cols, m_tile, lanes : int
        Array size, tokens per tile, scatter lanes.
    window, window_vectors, matchers, position_bits, matcher_width, collector_lanes
        Of the output gather (see :class:`SimilarityGather`).
    hierarchy : rtl.hierarchy.Hierarchy
        Builds the array, scatter accumulator, output converter and gather (inline by
        default).

    Ports
    -----
    weights, acts : In(stream)
        As :class:`SystolicArray` (``acts`` folds are the unique vectors of each slice).
    maps : In(stream.Signature(map_beat(m_tile, lanes)))
        Concentrated mode only; as :class:`ScatterAccumulator`.
    positions : In(stream.Signature(position_bits))
        Concentrated mode only: the original position of every token of a tile, in token
        order (``tokens`` per tile), for the output gather.
    unique : Out(stream.Signature(tile_vector(output, cols)))
        Concentrated: a tile's unique output vectors (representatives); dense: every row.
    map : Out(stream.Signature(map_layout(m_tile)))
        Concentrated mode: one code per token (compact index or the gather's ZERO code).
    dense, tokens, slices, frame_stride, row_stride, theta2 : In
        Runtime registers: mode (change it only between tiles, with no output pending),
        tokens per tile, K-slices per tile, the gather's FS, HS and theta**2 (Q0.16).
    fmt.scale_ports : In
        Runtime output scale of the format (int8: ``multiplier``, ``shift``; fp16: none).
    error : Out(len(ScatterError) + 1 + len(SicError))
        Sticky: the scatter accumulator's error bits, the array's protocol error, the
        gather's error bits, in that order.
    cycles, array_vectors, array_stall_cycles, scatter_busy_cycles : Out(32)
        Counters since reset: clock cycles, vectors accepted by the array, cycles the array
        had a partial sum the scatter could not take, cycles the scatter consumed a map beat.
    """

    def __init__(self, fmt, *, rows, cols, m_tile, lanes, window=(2, 2, 2), window_vectors=256,
                 matchers=1, position_bits=14, matcher_width=None, collector_lanes=None,
                 hierarchy=INLINE):
        self.fmt = fmt
        self.array = hierarchy.build(SystolicArray, fmt, rows=rows, cols=cols)
        self.scatter = hierarchy.build(ScatterAccumulator, fmt, cols=cols, m_tile=m_tile,
                                       lanes=lanes)
        self.converter = hierarchy.build(OutputConverter, fmt, cols=cols)
        self.gather = hierarchy.build(SimilarityGather, fmt, vector_size=cols, m_tile=m_tile,
                                      window=window, window_vectors=window_vectors,
                                      matchers=matchers, position_bits=position_bits,
                                      matcher_width=matcher_width,
                                      collector_lanes=collector_lanes)
        self.m_tile, self.lanes, self.position_bits = m_tile, lanes, position_bits
        counter = Out(32)
        super().__init__({
            "weights": In(stream.Signature(self.array.weights.payload.shape())),
            "acts": In(stream.Signature(self.array.acts.payload.shape())),
            "maps": In(stream.Signature(map_beat(m_tile, lanes))),
            "positions": In(stream.Signature(position_bits)),
            "unique": Out(stream.Signature(tile_vector(fmt.output_shape, cols))),
            "map": Out(stream.Signature(map_layout(m_tile))),
            "dense": In(1),
            "tokens": In(range(m_tile + 1)),
            "slices": In(16),
            **{name: In(shape) for name, shape in fmt.scale_ports.items()},
            "frame_stride": In(position_bits),
            "row_stride": In(position_bits),
            "theta2": In(THETA_BITS),
            "error": Out(len(ScatterError) + 1 + len(SicError)),
            "cycles": counter,
            "array_vectors": counter,
            "array_stall_cycles": counter,
            "scatter_busy_cycles": counter,
        })

    def elaborate(self, platform):
        m = Module()
        array, scatter, converter, gather = self.array, self.scatter, self.converter, self.gather
        m.submodules.array = array
        m.submodules.scatter = scatter
        m.submodules.converter = converter
        m.submodules.gather = gather
        wiring.connect(m, wiring.flipped(self.weights), array.weights)
        wiring.connect(m, wiring.flipped(self.acts), array.acts)
        wiring.connect(m, array.psums, scatter.psums)
        wiring.connect(m, scatter.out, converter.i)
        m.d.comb += [
            scatter.tokens.eq(self.tokens),
            scatter.slices.eq(self.slices),
            gather.frame_stride.eq(self.frame_stride),
            gather.row_stride.eq(self.row_stride),
            gather.theta2.eq(self.theta2),
            gather.tile_length.eq(self.tokens),
            self.error.eq(scatter.error
                          | array.error << len(ScatterError)
                          | gather.error << (len(ScatterError) + 1)),
            *(getattr(converter, name).eq(getattr(self, name)) for name in self.fmt.scale_ports),
            self.array_stall_cycles.eq(scatter.stall_cycles),
            self.scatter_busy_cycles.eq(scatter.busy_cycles),
        ]

        # --- tile buffer between the conversion and the gather ------------------------------
        m.submodules.tile_buffer = tile_buffer = StreamQueue(self.unique.payload.shape(),
                                                              depth=self.m_tile)
        wiring.connect(m, converter.o, tile_buffer.i)
        buffered = tile_buffer.o
        with m.If(self.dense):
            m.d.comb += [
                self.unique.valid.eq(buffered.valid),
                self.unique.payload.eq(buffered.payload),
                buffered.ready.eq(self.unique.ready),
            ]
        with m.Else():
            # Join each row with its token's position.
            vectors = gather.vectors
            m.d.comb += [
                vectors.valid.eq(buffered.valid & self.positions.valid),
                vectors.payload.data.eq(buffered.payload.data),
                vectors.payload.position.eq(self.positions.payload),
                vectors.payload.first.eq(buffered.payload.first),
                vectors.payload.last.eq(buffered.payload.last),
                buffered.ready.eq(vectors.ready & self.positions.valid),
                self.positions.ready.eq(vectors.ready & buffered.valid),
            ]
            wiring.connect(m, gather.unique, wiring.flipped(self.unique))
        wiring.connect(m, gather.map, wiring.flipped(self.map))

        # --- dense mode: identity maps, ceil(tokens / lanes) beats per slice ----------------
        lanes = self.lanes
        identity = Signal(scatter.maps.payload.shape())
        beat = Signal(range(-(-self.m_tile // lanes) + 1))
        final = beat == (self.tokens + lanes - 1) // lanes - 1
        for j in range(lanes):
            m.d.comb += identity.entries[j].group.eq(beat * lanes + j)
        m.d.comb += identity.last.eq(final)
        with m.If(self.dense):
            m.d.comb += [
                scatter.maps.valid.eq(1),
                scatter.maps.payload.eq(identity),
                self.maps.ready.eq(0),
            ]
            with m.If(scatter.maps.ready):
                m.d.sync += beat.eq(beat + 1)
                with m.If(final):
                    m.d.sync += beat.eq(0)
        with m.Else():
            wiring.connect(m, wiring.flipped(self.maps), scatter.maps)

        m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(self.acts.valid & self.acts.ready):
            m.d.sync += self.array_vectors.eq(self.array_vectors + 1)
        return m
