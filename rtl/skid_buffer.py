"""Two-entry stream buffer whose ``ready`` output is a register."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class SkidBuffer(wiring.Component):
    """Full-throughput stream register stage that cuts the combinational ``ready`` path.

    Parameters
    ----------
    payload_shape : ShapeLike
        Payload of both streams.

    Ports
    -----
    i : In(stream.Signature(payload_shape))
        Upstream. ``i.ready`` is a flip-flop output (it does not depend on ``o.ready`` in the
        same cycle), so it may drive a large clock-enable net.
    o : Out(stream.Signature(payload_shape))
        Downstream, driven from registers.

    Latency 1 cycle; throughput 1 beat per cycle; order preserved; holds at most 2 beats.
    """

    def __init__(self, payload_shape):
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "o": Out(stream.Signature(payload_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        skid_payload = Signal.like(self.i.payload)
        m.d.comb += self.i.ready.eq(~skid_valid)

        o_free = ~self.o.valid | self.o.ready
        with m.If(o_free):
            with m.If(skid_valid):
                m.d.sync += [
                    self.o.payload.eq(skid_payload),
                    self.o.valid.eq(1),
                    skid_valid.eq(0),
                ]
            with m.Else():
                m.d.sync += [
                    self.o.payload.eq(self.i.payload),
                    self.o.valid.eq(self.i.valid),
                ]
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [
                skid_payload.eq(self.i.payload),
                skid_valid.eq(1),
            ]
        return m
