"""A stream FIFO: ``depth`` beats between a stream input and a stream output."""

from amaranth.hdl import Module
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .parameters import check_int


class StreamQueue(wiring.Component):
    """First-in first-out buffer of ``depth`` stream beats (``amaranth.lib.fifo``'s
    ``SyncFIFOBuffered``, so its output is driven from a register).

    Parameters
    ----------
    payload_shape : ShapeLike
        Payload of both streams.
    depth : int
        Beats it holds.

    Ports
    -----
    i : In(stream.Signature(payload_shape))
        Upstream; ``i.ready`` is high while there is room.
    o : Out(stream.Signature(payload_shape))
        Downstream, in order.
    level : Out(range(depth + 1))
        Beats held (``o.valid`` follows a written beat by one cycle).

    Throughput 1 beat per cycle in and out; latency 1 cycle from a written beat to
    ``o.valid``. Never loses, duplicates or reorders a beat.
    """

    def __init__(self, payload_shape, *, depth):
        self.depth = check_int("StreamQueue", "depth", depth, limit="queue_depth")
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "o": Out(stream.Signature(payload_shape)),
            "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        width = len(self.i.payload.as_value())
        m.submodules.fifo = buffer = fifo.SyncFIFOBuffered(width=width, depth=self.depth)
        m.d.comb += [
            buffer.w_data.eq(self.i.payload.as_value()),
            buffer.w_en.eq(self.i.valid),
            self.i.ready.eq(buffer.w_rdy),
            self.o.valid.eq(buffer.r_rdy),
            self.o.payload.eq(buffer.r_data),
            buffer.r_en.eq(self.o.ready),
            self.level.eq(buffer.level),
        ]
        return m
