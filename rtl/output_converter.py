"""Converts finished accumulator rows to the output format (fp32 -> fp16, int32 -> int8)."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import tile_vector
from .pipeline import delay
from .skid_buffer import SkidBuffer


class OutputConverter(wiring.Component):
    """Element-wise ``fmt.output_converter()`` over ``cols``-wide tile rows.

    Parameters
    ----------
    fmt : ArithmeticFormat
    cols : int

    Ports
    -----
    i : In(stream.Signature(tile_vector(accumulator, cols)))
    o : Out(stream.Signature(tile_vector(output, cols)))
        Converted rows, markers passed through, in order.
    fmt.scale_ports : In
        The format's runtime output scale (int8: ``multiplier``, ``shift``; fp16: none).

    Latency ``converter latency + 1`` cycles, 1 row per cycle; back-pressure stalls the
    whole pipeline through a skid buffer with a registered ``ready``.
    """

    def __init__(self, fmt, *, cols):
        self.fmt, self.cols = fmt, cols
        self.latency = fmt.output_latency + 1
        super().__init__({
            "i": In(stream.Signature(tile_vector(fmt.accumulator_shape, cols))),
            "o": Out(stream.Signature(tile_vector(fmt.output_shape, cols))),
            **{name: In(shape) for name, shape in fmt.scale_ports.items()},
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.out_buffer = out_buffer = SkidBuffer(self.o.payload.shape())
        wiring.connect(m, wiring.flipped(self.o), out_buffer.o)
        advance = out_buffer.i.ready
        m.d.comb += self.i.ready.eq(advance)

        row = Signal(self.o.payload.shape())
        latency = self.latency - 1
        for c in range(self.cols):
            unit = m.submodules[f"convert{c}"] = self.fmt.output_converter()
            assert unit.latency == latency, "format's output_latency disagrees with its unit"
            m.d.comb += [unit.en.eq(advance), unit.a.eq(self.i.payload.data[c]),
                         row.data[c].eq(unit.result)]
            m.d.comb += [getattr(unit, name).eq(getattr(self, name))
                         for name in self.fmt.scale_ports]
        beat = Signal(3)     # valid, first, last
        m.d.comb += beat.eq(Cat(self.i.valid & advance, self.i.payload.first,
                                self.i.payload.last))
        leaving = delay(m, beat, latency, name="marker", en=advance)
        m.d.comb += [
            row.first.eq(leaving[1]),
            row.last.eq(leaving[2]),
            out_buffer.i.valid.eq(leaving[0]),
            out_buffer.i.payload.eq(row),
        ]
        return m
