"""SEC top level: importance analyzer -> top-k sorter -> offset encoder."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .hierarchy import INLINE
from .importance_analyzer import AnalyzerError, ImportanceAnalyzer
from .offset_encoder import EncoderError, OffsetEncoder
from .parameters import check_int
from .layouts import code_beat, probs_beat
from .topk_sorter import SorterError, TopKSorter


class SecError(enum.Enum, shape=3):
    """Bit positions of the sticky ``error`` port of :class:`SemanticConcentrator`."""
    BAD_VALUE = 0      #: :attr:`AnalyzerError.BAD_VALUE`: NaN/inf/negative probability -> 0
    BAD_TOKENS = 1     #: :attr:`AnalyzerError.BAD_TOKENS`: M = 0 or > max_tokens -> clamped
    BAD_GROUP = 2      #: :attr:`AnalyzerError.BAD_GROUP`: column group past M -> beat ignored
    BAD_K = 3          #: :attr:`SorterError.BAD_K`: k = 0 or k > M -> k clamped to [1, M]
    BAD_PASS = 4       #: :attr:`SorterError.BAD_PASS` (cannot happen inside this top)
    NOT_ASCENDING = 5  #: :attr:`EncoderError.NOT_ASCENDING` (cannot happen inside this top)


class SemanticConcentrator(wiring.Component):
    """Token pruning of one SEC layer: probabilities in, offset codes of the top-k tokens out.

    ``probs`` -> :class:`ImportanceAnalyzer` -> (importance passes) -> :class:`TopKSorter` ->
    (ascending indices) -> :class:`OffsetEncoder` -> ``codes``. The analyzer and the sorter
    exchange pass requests internally; the sorter releases the importance buffer after its
    final pass, so the next layer's probabilities stream in while the indices of this one are
    still being coded.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Number format of the probabilities (its importance key).
    sort_width : int
        Analyzer lanes and sorter chain length ``a``.
    max_tokens : int
        Importance buffer depth.
    offset_bits : int
        Width of one offset code.
    hierarchy : rtl.hierarchy.Hierarchy
        Builds the analyzer, sorter and encoder (inline by default).

    Ports
    -----
    probs : In(stream.Signature(rtl.sec_common.probs_beat(W, a, max_tokens)))
        One layer's attention-probability vectors (any order), ``tokens`` = M (runtime
        register, from the first beat), ``last`` on the final vector.
    k : In(range(max_tokens + 1))
        Runtime register: tokens to keep. Sampled when the layer's ``last`` vector is accepted.
    codes : Out(stream.Signature(rtl.sec_common.code_beat(offset_bits)))
        Offset codes of the selected tokens (ascending), ``last`` on the layer's final code.
    error : Out(len(SecError))
        Sticky error bits (:class:`SecError`), cleared by reset. The output stays defined:
        bad values count as importance 0, M and k are clamped, stray groups are ignored.
    busy : Out(1)
        High while any part still works on a layer.

    Timing
    ------
    Accumulation 1 vector per cycle; sorting ``golden.sec.sorter_cycles`` (``ceil(k/a) * M``
    plus ``k + ceil(M/a) + a + 2`` at most) starting 3 cycles after the ``last`` vector;
    codes at 1 per cycle (``e + 1`` cycles for an offset with ``e`` escapes) overlapping the
    index walk; next layer accepted ``ceil(M/a)`` cycles after the final pass.
    """

    def __init__(self, fmt, *, sort_width, max_tokens, offset_bits, hierarchy=INLINE):
        for name, value in (("sort_width", sort_width), ("max_tokens", max_tokens),
                            ("offset_bits", offset_bits)):
            check_int("SemanticConcentrator", name, value)
        self.fmt, self.sort_width = fmt, sort_width
        self.max_tokens, self.offset_bits = max_tokens, offset_bits
        self.analyzer = hierarchy.build(ImportanceAnalyzer, fmt, sort_width=sort_width,
                                        max_tokens=max_tokens)
        self.sorter = hierarchy.build(TopKSorter, fmt, sort_width=sort_width,
                                      max_tokens=max_tokens)
        self.encoder = hierarchy.build(OffsetEncoder, max_tokens=max_tokens,
                                       offset_bits=offset_bits)
        super().__init__({
            "probs": In(stream.Signature(probs_beat(fmt.importance_width, sort_width,
                                                    max_tokens))),
            "k": In(range(max_tokens + 1)),
            "codes": Out(stream.Signature(code_beat(offset_bits))),
            "error": Out(len(SecError)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.analyzer = analyzer = self.analyzer
        m.submodules.sorter = sorter = self.sorter
        m.submodules.encoder = encoder = self.encoder

        wiring.connect(m, wiring.flipped(self.probs), analyzer.probs)
        wiring.connect(m, sorter.read, analyzer.read)
        wiring.connect(m, analyzer.importance, sorter.importance)
        wiring.connect(m, sorter.selected, encoder.indices)
        wiring.connect(m, encoder.codes, wiring.flipped(self.codes))

        k = Signal.like(self.k)
        with m.If(self.probs.valid & self.probs.ready & self.probs.payload.last):
            m.d.sync += k.eq(self.k)
        m.d.comb += [
            sorter.k.eq(k),
            self.error.eq(Cat(analyzer.error, sorter.error, encoder.error)),
            self.busy.eq(analyzer.busy | sorter.busy | encoder.codes.valid),
        ]
        assert [e.value for e in SecError] == list(range(len(AnalyzerError) + len(SorterError)
                                                         + len(EncoderError)))
        return m
