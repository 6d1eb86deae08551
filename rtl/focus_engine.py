"""FocusEngine: one concentrated (or dense) GEMM output tile, from unique vectors to output rows."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .arith.requantizer import MULTIPLIER_BITS, SHIFT_BITS
from .layouts import map_beat, tile_vector
from .output_converter import OutputConverter
from .scatter_accumulator import ScatterAccumulator, ScatterError
from .systolic_array import SystolicArray


class FocusEngine(wiring.Component):
    """Systolic array -> scatter accumulator -> output conversion, for one output tile.

    For each of ``slices`` K-slices the engine takes one weight tile (``rows x cols``), the
    slice's unique input vectors (one fold) and, in concentrated mode, the slice's similarity
    map; the array computes one partial-sum vector per unique vector, the scatter accumulator
    adds it into every token row mapped to it, and after the last slice the tile is converted
    to the output format and streamed out in token order. In dense mode (``dense = 1``) the
    maps are generated internally as the identity (token ``t`` uses vector ``t``), so the
    same hardware runs the uncompressed baseline.

    Parameters
    ----------
    fmt : ArithmeticFormat
    rows, cols, m_tile, lanes : int
        Array size, tokens per tile, scatter lanes.

    Ports
    -----
    weights, acts : In(stream)
        As :class:`SystolicArray` (``acts`` folds are the unique vectors of each slice).
    maps : In(stream.Signature(map_beat(m_tile, lanes)))
        Concentrated mode only; as :class:`ScatterAccumulator`.
    out : Out(stream.Signature(tile_vector(output, cols)))
        The finished tile, converted, ``tokens`` rows.
    dense, tokens, slices, multiplier, shift : In
        Runtime registers (mode, tokens per tile, K-slices per tile, int8 output scale).
    error : Out(len(ScatterError) + 1)
        Sticky: the scatter accumulator's error bits, and the array's protocol error on top.
    cycles, array_vectors, array_stall_cycles, scatter_busy_cycles : Out(32)
        Counters since reset: clock cycles, vectors accepted by the array, cycles the array
        had a partial sum the scatter could not take, cycles the scatter consumed a map beat.
    """

    def __init__(self, fmt, *, rows, cols, m_tile, lanes):
        self.fmt = fmt
        self.array = SystolicArray(fmt, rows=rows, cols=cols)
        self.scatter = ScatterAccumulator(fmt, cols=cols, m_tile=m_tile, lanes=lanes)
        self.converter = OutputConverter(fmt, cols=cols)
        self.m_tile, self.lanes = m_tile, lanes
        counter = Out(32)
        super().__init__({
            "weights": In(stream.Signature(self.array.weights.payload.shape())),
            "acts": In(stream.Signature(self.array.acts.payload.shape())),
            "maps": In(stream.Signature(map_beat(m_tile, lanes))),
            "out": Out(stream.Signature(tile_vector(fmt.output_shape, cols))),
            "dense": In(1),
            "tokens": In(range(m_tile + 1)),
            "slices": In(16),
            "multiplier": In(MULTIPLIER_BITS),
            "shift": In(SHIFT_BITS),
            "error": Out(len(ScatterError) + 1),
            "cycles": counter,
            "array_vectors": counter,
            "array_stall_cycles": counter,
            "scatter_busy_cycles": counter,
        })

    def elaborate(self, platform):
        m = Module()
        array, scatter, converter = self.array, self.scatter, self.converter
        m.submodules.array = array
        m.submodules.scatter = scatter
        m.submodules.converter = converter
        wiring.connect(m, wiring.flipped(self.weights), array.weights)
        wiring.connect(m, wiring.flipped(self.acts), array.acts)
        wiring.connect(m, array.psums, scatter.psums)
        wiring.connect(m, scatter.out, converter.i)
        wiring.connect(m, converter.o, wiring.flipped(self.out))
        m.d.comb += [
            scatter.tokens.eq(self.tokens),
            scatter.slices.eq(self.slices),
            converter.multiplier.eq(self.multiplier),
            converter.shift.eq(self.shift),
            self.error.eq(scatter.error | array.error << len(ScatterError)),
            self.array_stall_cycles.eq(scatter.stall_cycles),
            self.scatter_busy_cycles.eq(scatter.busy_cycles),
        ]

        # Dense mode: identity maps, ceil(tokens / lanes) beats per slice.
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
