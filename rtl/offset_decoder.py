"""SEC offset decoder: escape-coded delta offsets back to ascending token indices."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .parameters import check_int
from .layouts import code_beat, index_beat


class DecoderError(enum.Enum, shape=1):
    """Bit positions of the sticky ``error`` port of :class:`OffsetDecoder`."""
    TRAILING_ESCAPE = 0  #: a layer's ``last`` code was an escape; decoded as code E
    OVERFLOW = 1         #: an index reached max_tokens; emitted as max_tokens - 1


class OffsetDecoder(wiring.Component):
    """Inverse of :class:`rtl.offset_encoder.OffsetEncoder`.

    Code 0 adds ``E = 2**offset_bits - 1`` to the pending gap and emits nothing; a code
    ``c >= 1`` emits the token ``previous + pending + c`` (``previous = -1`` at a layer's
    start). The ``last`` code ends the layer. Model: ``golden.sec.decode_stream``.

    Parameters
    ----------
    max_tokens : int
        Indices are ``range(max_tokens)``.
    offset_bits : int
        Width of one code (2 to 16).

    Ports
    -----
    codes : In(stream.Signature(rtl.sec_common.code_beat(offset_bits)))
        Code stream, ``last`` on each layer's final code.
    indices : Out(stream.Signature(rtl.sec_common.index_beat(max_tokens)))
        One index per non-escape code, ``last`` copied; registered.
    error : Out(len(DecoderError))
        Sticky error bits (:class:`DecoderError`), cleared by reset.

    Timing
    ------
    Registers only. Latency 1 cycle; one code per cycle.
    """

    def __init__(self, *, max_tokens, offset_bits):
        check_int("OffsetDecoder", "max_tokens", max_tokens)
        check_int("OffsetDecoder", "offset_bits", offset_bits)
        self.max_tokens, self.offset_bits = max_tokens, offset_bits
        super().__init__({
            "codes": In(stream.Signature(code_beat(self.offset_bits))),
            "indices": Out(stream.Signature(index_beat(max_tokens))),
            "error": Out(len(DecoderError)),
        })
        # smallest index the next token may have (an attribute for formal harnesses)
        self._position = Signal(range(max_tokens + 1))

    def elaborate(self, platform):
        m = Module()
        n, step = self.max_tokens, (1 << self.offset_bits) - 1
        position = self._position

        m.d.comb += self.codes.ready.eq(~self.indices.valid | self.indices.ready)
        with m.If(self.indices.ready):
            m.d.sync += self.indices.valid.eq(0)

        code, last = self.codes.payload.code, self.codes.payload.last
        escape = code == 0
        index = position + Mux(escape, step, code) - 1
        with m.If(self.codes.valid & self.codes.ready):
            with m.If(escape & ~last):
                m.d.sync += position.eq(Mux(position + step > n, n, position + step))
            with m.Else():
                m.d.sync += [self.indices.valid.eq(1), self.indices.payload.last.eq(last),
                             position.eq(Mux(last, 0, Mux(index >= n, n, index + 1)))]
                with m.If(escape):
                    m.d.sync += self.error[DecoderError.TRAILING_ESCAPE.value].eq(1)
                with m.If(index >= n):
                    m.d.sync += [self.indices.payload.index.eq(n - 1),
                                 self.error[DecoderError.OVERFLOW.value].eq(1)]
                with m.Else():
                    m.d.sync += self.indices.payload.index.eq(index)
        return m
