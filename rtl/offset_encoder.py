"""SEC offset encoder: ascending token indices to escape-coded delta offsets (spec 2.2)."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .parameters import check_int
from .layouts import code_beat, index_beat


class EncoderError(enum.Enum, shape=1):
    """Bit positions of the sticky ``error`` port of :class:`OffsetEncoder`."""
    NOT_ASCENDING = 0   #: an index did not exceed its predecessor; coded as predecessor + 1


class OffsetEncoder(wiring.Component):
    """Codes each layer's ascending indices as ``offset_bits``-wide delta offsets.

    Offsets ``d_j = i_j - i_{j-1}`` with ``i_{-1} = -1`` (so ``d >= 1``); with ``E =
    2**offset_bits - 1`` an offset is sent as ``(d - 1) // E`` escape codes 0 followed by the
    code ``d - E * ((d - 1) // E)`` in ``1 .. E`` -- exactly ``golden.algorithm.encode_offsets``.
    The ``last`` index of a layer gives the ``last`` code and restarts the position at -1.

    Parameters
    ----------
    max_tokens : int
        Indices are ``range(max_tokens)``.
    offset_bits : int
        Width of one code (2 to 16).

    Ports
    -----
    indices : In(stream.Signature(rtl.sec_common.index_beat(max_tokens)))
        Strictly ascending indices per layer, ``last`` on the layer's final one.
    codes : Out(stream.Signature(rtl.sec_common.code_beat(offset_bits)))
        The code stream, ``last`` on the code of the layer's final index; driven from
        registers (the code is a compare-and-select of the held offset).
    error : Out(len(EncoderError))
        Sticky error bits (:class:`EncoderError`), cleared by reset.

    Timing
    ------
    Registers only. Latency 1 cycle; one code per cycle. An index whose offset needs ``e``
    escapes occupies the encoder for ``e + 1`` cycles (``indices.ready`` low for ``e`` of them).
    """

    def __init__(self, *, max_tokens, offset_bits):
        check_int("OffsetEncoder", "max_tokens", max_tokens)
        check_int("OffsetEncoder", "offset_bits", offset_bits)
        self.max_tokens, self.offset_bits = max_tokens, offset_bits
        super().__init__({
            "indices": In(stream.Signature(index_beat(max_tokens))),
            "codes": Out(stream.Signature(code_beat(offset_bits))),
            "error": Out(len(EncoderError)),
        })
        # State, created here so that formal harnesses can state invariants over it.
        index_width = len(self.indices.payload.index)
        self._base = Signal(index_width + 1)     # previous index + 1 (0 at a layer's start)
        self._offset = Signal(index_width + 1)   # what is left of the held index's offset
        self._held = Signal()
        self._held_last = Signal()

    def elaborate(self, platform):
        m = Module()
        step = (1 << self.offset_bits) - 1
        base, offset, held, held_last = self._base, self._offset, self._held, self._held_last

        final_code = offset <= step
        m.d.comb += [
            self.codes.valid.eq(held),
            self.codes.payload.code.eq(Mux(final_code, offset, 0)),
            self.codes.payload.last.eq(held_last & final_code),
            self.indices.ready.eq(~held | (self.codes.ready & final_code)),
        ]
        with m.If(self.codes.valid & self.codes.ready):
            with m.If(final_code):
                m.d.sync += held.eq(0)
            with m.Else():
                m.d.sync += offset.eq(offset - step)

        index = self.indices.payload.index
        with m.If(self.indices.valid & self.indices.ready):
            m.d.sync += [held.eq(1), held_last.eq(self.indices.payload.last)]
            with m.If(index < base):
                m.d.sync += [offset.eq(1), base.eq(base + 1),
                             self.error[EncoderError.NOT_ASCENDING.value].eq(1)]
            with m.Else():
                m.d.sync += [offset.eq(index + 1 - base), base.eq(index + 1)]
            with m.If(self.indices.payload.last):
                m.d.sync += base.eq(0)
        return m
