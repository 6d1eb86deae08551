"""Simulation wrapper of the SEC blocks: one Verilator build per configuration tests them all.

:class:`SecHarness` holds the :class:`~rtl.semantic_concentrator.SemanticConcentrator` top
plus standalone instances of the analyzer, the sorter and the offset coders, each with its own
ports, so the cocotb testbench ``sim_cocotb.tb_sec`` can drive every block directly (idle and
back-pressure on every stream) and the top end to end, from a single compiled model.

Ports (cocotb names ``<port>__valid`` etc. for streams)
-------------------------------------------------------
``probs, k, codes, error, busy``
    The top's ports.
``imp_tap_fire, imp_tap_value, imp_tap_last``; ``sel_tap_fire, sel_tap_index, sel_tap_last``
    Monitors of the top's internal analyzer -> sorter and sorter -> encoder streams (a
    transfer happens in a cycle where ``*_fire`` is high).
``cycle``
    Free-running cycle counter (from reset), for the cycle measurements.
``an_probs, an_read, an_importance, an_error``
    A standalone :class:`~rtl.importance_analyzer.ImportanceAnalyzer`.
``so_importance, so_read, so_k, so_selected, so_error``
    A standalone :class:`~rtl.topk_sorter.TopKSorter`.
``lp_indices, lp_codes_fire, lp_codes_code, lp_codes_last, lp_indices_out, lp_error``
    :class:`~rtl.offset_encoder.OffsetEncoder` -> :class:`~rtl.offset_decoder.OffsetDecoder`
    loop with a monitor of the codes between them; ``lp_error`` = decoder bits, encoder bit.
``dec_codes, dec_indices, dec_error``
    A standalone decoder for malformed code streams.
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from rtl.hierarchy import INLINE
from rtl.importance_analyzer import ImportanceAnalyzer
from rtl.offset_decoder import OffsetDecoder
from rtl.offset_encoder import OffsetEncoder
from rtl.semantic_concentrator import SemanticConcentrator
from rtl.topk_sorter import TopKSorter

class SecHarness(wiring.Component):
    """``taps``: the top is elaborated inline and its internal streams are tapped; without
    taps the top is built through ``hierarchy`` like the standalone blocks (so the generator's
    own module is simulated) and the tap ports are constant 0."""

    def __init__(self, fmt, *, sort_width, max_tokens, offset_bits, taps=True,
                 hierarchy=INLINE):
        sec = dict(sort_width=sort_width, max_tokens=max_tokens)
        coder = dict(max_tokens=max_tokens, offset_bits=offset_bits)
        self.taps = taps
        self.top = (SemanticConcentrator(fmt, **sec, offset_bits=offset_bits) if taps else
                    hierarchy.build(SemanticConcentrator, fmt, **sec, offset_bits=offset_bits))
        self.analyzer = hierarchy.build(ImportanceAnalyzer, fmt, **sec)
        self.sorter = hierarchy.build(TopKSorter, fmt, **sec)
        self.loop_encoder = hierarchy.build(OffsetEncoder, **coder)
        self.loop_decoder = hierarchy.build(OffsetDecoder, **coder)
        self.decoder = hierarchy.build(OffsetDecoder, **coder)
        top, an, so = self.top.signature.members, self.analyzer.signature.members, \
            self.sorter.signature.members
        enc = self.loop_encoder.signature.members
        dec = self.decoder.signature.members
        value_width = self.analyzer.value_width
        super().__init__({
            "probs": top["probs"], "k": top["k"], "codes": top["codes"],
            "error": top["error"], "busy": top["busy"],
            "imp_tap_fire": Out(1), "imp_tap_value": Out(value_width), "imp_tap_last": Out(1),
            "sel_tap_fire": Out(1), "sel_tap_index": Out(range(max(max_tokens, 2))),
            "sel_tap_last": Out(1),
            "cycle": Out(32),
            "an_probs": an["probs"], "an_read": an["read"],
            "an_importance": an["importance"], "an_error": an["error"],
            "so_importance": so["importance"], "so_read": so["read"], "so_k": so["k"],
            "so_selected": so["selected"], "so_error": so["error"],
            "lp_indices": enc["indices"],
            "lp_codes_fire": Out(1), "lp_codes_code": Out(offset_bits), "lp_codes_last": Out(1),
            "lp_indices_out": dec["indices"],
            "lp_error": Out(len(self.loop_decoder.error) + len(self.loop_encoder.error)),
            "dec_codes": dec["codes"], "dec_indices": dec["indices"],
            "dec_error": dec["error"],
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.top = top = self.top
        m.submodules.analyzer = analyzer = self.analyzer
        m.submodules.sorter = sorter = self.sorter
        m.submodules.loop_encoder = encoder = self.loop_encoder
        m.submodules.loop_decoder = loop_decoder = self.loop_decoder
        m.submodules.decoder = decoder = self.decoder
        flip = wiring.flipped

        wiring.connect(m, flip(self.probs), top.probs)
        wiring.connect(m, top.codes, flip(self.codes))
        m.d.comb += [top.k.eq(self.k), self.error.eq(top.error), self.busy.eq(top.busy)]

        if self.taps:
            self._tap(m, top)
        m.d.sync += self.cycle.eq(self.cycle + 1)

        wiring.connect(m, flip(self.an_probs), analyzer.probs)
        wiring.connect(m, flip(self.an_read), analyzer.read)
        wiring.connect(m, analyzer.importance, flip(self.an_importance))
        m.d.comb += self.an_error.eq(analyzer.error)

        wiring.connect(m, flip(self.so_importance), sorter.importance)
        wiring.connect(m, sorter.read, flip(self.so_read))
        wiring.connect(m, sorter.selected, flip(self.so_selected))
        m.d.comb += [sorter.k.eq(self.so_k), self.so_error.eq(sorter.error)]

        wiring.connect(m, flip(self.lp_indices), encoder.indices)
        wiring.connect(m, encoder.codes, loop_decoder.codes)
        wiring.connect(m, loop_decoder.indices, flip(self.lp_indices_out))
        codes = encoder.codes
        m.d.comb += [
            self.lp_codes_fire.eq(codes.valid & codes.ready),
            self.lp_codes_code.eq(codes.payload.code),
            self.lp_codes_last.eq(codes.payload.last),
            self.lp_error.eq(Cat(loop_decoder.error, encoder.error)),
        ]

        wiring.connect(m, flip(self.dec_codes), decoder.codes)
        wiring.connect(m, decoder.indices, flip(self.dec_indices))
        m.d.comb += self.dec_error.eq(decoder.error)
        return m

    def _tap(self, m, top):
        """Monitors of the inline top's analyzer -> sorter and sorter -> encoder streams."""
        importance, selected = top.analyzer.importance, top.sorter.selected
        m.d.comb += [
            self.imp_tap_fire.eq(importance.valid & importance.ready),
            self.imp_tap_value.eq(importance.payload.value),
            self.imp_tap_last.eq(importance.payload.last),
            self.sel_tap_fire.eq(selected.valid & selected.ready),
            self.sel_tap_index.eq(selected.payload.index),
            self.sel_tap_last.eq(selected.payload.last),
        ]
