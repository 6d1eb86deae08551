"""SEC importance analyzer: per-token running max of attention probabilities."""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .parameters import check_int
from .layouts import READ_REQUEST, groups, importance_beat, probs_beat


class AnalyzerError(enum.Enum, shape=2):
    """Bit positions of the sticky ``error`` port of :class:`ImportanceAnalyzer`."""
    BAD_VALUE = 0     #: a probability (lane < M) was NaN, infinite or negative; counted as 0
    BAD_TOKENS = 1    #: ``tokens`` was 0 or above max_tokens (clamped), or changed in a layer
    BAD_GROUP = 2     #: a beat's column group starts at or past M; the beat was ignored


class _State(enum.Enum, shape=2):
    CLEAR = 0     # writing zeros over the words of the last layer (after reset: all words)
    ACCUMULATE = 1
    LOADED = 2    # layer closed, waiting for a pass request
    PASS = 3      # streaming the buffer in token order


class ImportanceAnalyzer(wiring.Component):
    """``sort_width`` lanes of running-max units over a ``max_tokens``-entry importance buffer.

    The buffer is an ``amaranth.lib.memory.Memory`` of ``ceil(max_tokens / a)`` words of ``a``
    importance values (``a = sort_width``): word ``g`` holds tokens ``g*a .. g*a + a - 1``.

    Protocol of one layer
    ---------------------
    1. *Accumulate.* Each ``probs`` beat carries ``a`` probabilities of the column group
       ``group`` for one text row and head; rows, heads and groups may come in any order and
       any number. Every lane ``l`` with token ``group*a + l < M`` is sanitized
       (the format's ``sanitize_importance``) and max-ed into the buffer. The beat with
       ``last`` closes the layer.
    2. *Passes.* Each accepted ``read`` request with ``release = 0`` streams the buffer once on
       ``importance``: M beats in token order, ``last`` on token M - 1.
    3. *Release.* A ``read`` request with ``release = 1`` ends the layer: the analyzer writes
       zeros over the ``ceil(M / a)`` words in use (one per cycle) and then accepts the next
       layer. After reset it clears all words the same way.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Number format of the probabilities: its ``importance_width`` and
        ``sanitize_importance`` (fp16: raw binary16 patterns; int8: UQ0.8 codes).
    sort_width : int
        Lanes ``a``.
    max_tokens : int
        Importance buffer depth (tokens).

    Ports
    -----
    probs : In(stream.Signature(rtl.sec_common.probs_beat(W, a, max_tokens)))
        Probability vectors. ``tokens`` (M) is taken from the layer's first beat and clamped to
        ``[1, max_tokens]``; ``ready`` is high only while accumulating.
    read : In(stream.Signature(rtl.sec_common.READ_REQUEST))
        Pass requests; accepted once the layer is closed, or on the cycle the last token of the
        current pass is handed to ``importance`` (so passes run back to back).
    importance : Out(stream.Signature(rtl.sec_common.importance_beat(W)))
        The buffer in token order, driven from a register.
    error : Out(len(AnalyzerError))
        Sticky error bits (:class:`AnalyzerError`), cleared by reset.
    busy : Out(1)
        High unless waiting for probabilities with an empty buffer.

    Timing
    ------
    Accumulate: 1 vector per cycle, no bubbles (a 2-stage read-max-write pipeline with a
    transparent read port, so consecutive beats may hit the same group). Pass: 1 token per
    cycle; the first token leaves 2 cycles after the request is accepted, and a request that
    is waiting when a pass ends starts the next pass with no gap. Release: ``ceil(M/a)``
    cycles of clearing (``ceil(max_tokens/a)`` after reset) before ``probs`` is ready.
    """

    def __init__(self, fmt, *, sort_width, max_tokens):
        check_int("ImportanceAnalyzer", "sort_width", sort_width)
        check_int("ImportanceAnalyzer", "max_tokens", max_tokens)
        self.fmt, self.sort_width, self.max_tokens = fmt, sort_width, max_tokens
        self.value_width = fmt.importance_width
        super().__init__({
            "probs": In(stream.Signature(probs_beat(self.value_width, sort_width,
                                                    max_tokens))),
            "read": In(stream.Signature(READ_REQUEST)),
            "importance": Out(stream.Signature(importance_beat(self.value_width))),
            "error": Out(len(AnalyzerError)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        a, n, w = self.sort_width, self.max_tokens, self.value_width
        words = groups(n, a)
        word_shape = data.ArrayLayout(unsigned(w), a)

        m.submodules.buffer = buffer = memory.Memory(shape=word_shape, depth=words, init=[])
        wr = buffer.write_port()
        rd = buffer.read_port(transparent_for=(wr,))
        m.d.comb += rd.en.eq(0)            # (its reset value is 1)

        state = Signal(_State, init=_State.CLEAR)
        tokens = Signal(range(n + 1), init=n)     # M of the current layer
        m.d.comb += self.busy.eq(state != _State.ACCUMULATE)

        # --- clear: zero the words of the last layer ------------------------------------
        clear_word = Signal(range(words))
        clear_base = Signal(range(n + a))        # clear_word * a
        with m.If(state == _State.CLEAR):
            m.d.comb += [wr.addr.eq(clear_word), wr.data.eq(0), wr.en.eq(1)]
            with m.If(clear_base + a >= tokens):
                m.d.sync += [state.eq(_State.ACCUMULATE), clear_word.eq(0),
                             clear_base.eq(0)]
            with m.Else():
                m.d.sync += [clear_word.eq(clear_word + 1), clear_base.eq(clear_base + a)]

        # --- accumulate: stage 1 (accept, sanitize, read) -> stage 2 (max, write) ---------
        beat = self.probs.payload
        started = Signal()                     # a beat of the current layer was accepted
        clamped = Signal(range(n + 1))
        m.d.comb += clamped.eq(beat.tokens)
        with m.If(beat.tokens == 0):
            m.d.comb += clamped.eq(1)
        with m.Elif(beat.tokens > n):
            m.d.comb += clamped.eq(n)
        layer_tokens = Signal(range(n + 1))
        m.d.comb += layer_tokens.eq(clamped)
        with m.If(started):
            m.d.comb += layer_tokens.eq(tokens)
        # tokens of the group present in this layer: M - group * a (<= 0: group out of range)
        in_group = Signal(range(-(words * a), n + 1))
        m.d.comb += in_group.eq(layer_tokens - beat.group * a)
        group_ok = in_group > 0

        clean = Signal(word_shape)
        bad_lane = Signal(a)
        for lane in range(a):
            key, invalid = self.fmt.sanitize_importance(beat.data[lane])
            used = lane < in_group
            m.d.comb += [clean[lane].eq(key & used.replicate(w)),
                         bad_lane[lane].eq(invalid & used)]

        m.d.comb += self.probs.ready.eq(state == _State.ACCUMULATE)
        accepted = self.probs.valid & self.probs.ready
        s2_valid = Signal()
        s2_group = Signal(range(words))
        s2_data = Signal(word_shape)
        m.d.sync += s2_valid.eq(accepted & group_ok)
        with m.If(accepted):
            m.d.sync += [s2_group.eq(beat.group), s2_data.eq(clean),
                         started.eq(~beat.last), tokens.eq(layer_tokens)]
            with m.If(~started & (clamped != beat.tokens)):
                m.d.sync += self.error[AnalyzerError.BAD_TOKENS.value].eq(1)
            with m.If(started & (clamped != tokens)):
                m.d.sync += self.error[AnalyzerError.BAD_TOKENS.value].eq(1)
            with m.If(~group_ok):
                m.d.sync += self.error[AnalyzerError.BAD_GROUP.value].eq(1)
            with m.Elif(bad_lane.any()):
                m.d.sync += self.error[AnalyzerError.BAD_VALUE.value].eq(1)
            with m.If(beat.last):
                m.d.sync += state.eq(_State.LOADED)
        with m.If(s2_valid):
            m.d.comb += [wr.addr.eq(s2_group), wr.en.eq(1)]
            for lane in range(a):
                old, new = rd.data[lane], s2_data[lane]
                m.d.comb += wr.data[lane].eq(Mux(old >= new, old, new))

        # --- passes: read word by word, hand out one token per cycle ----------------------
        word = Signal(range(words))
        lane = Signal(range(a))
        token = Signal(range(n))
        primed = Signal()                         # rd.data holds `word` of the current pass
        out_free = ~self.importance.valid | self.importance.ready
        hand_out = Signal()
        m.d.comb += hand_out.eq((state == _State.PASS) & primed & out_free)
        pass_end = hand_out & (token == tokens - 1)

        with m.If(self.importance.ready):
            m.d.sync += self.importance.valid.eq(0)
        with m.If(hand_out):
            m.d.sync += [
                self.importance.valid.eq(1),
                self.importance.payload.value.eq(rd.data[lane]),
                self.importance.payload.last.eq(pass_end),
                token.eq(token + 1),
            ]
            with m.If(lane == a - 1):
                m.d.sync += [lane.eq(0), word.eq(word + 1)]
                m.d.comb += [rd.addr.eq(word + 1), rd.en.eq(1)]
            with m.Else():
                m.d.sync += lane.eq(lane + 1)

        # A request starts a pass from LOADED, or chains onto the pass that is ending.
        m.d.comb += self.read.ready.eq((state == _State.LOADED) | pass_end)
        start = self.read.valid & self.read.ready
        with m.If(state == _State.ACCUMULATE):
            m.d.comb += [rd.addr.eq(beat.group), rd.en.eq(accepted)]
        with m.If(pass_end):
            m.d.sync += [state.eq(_State.LOADED), primed.eq(0)]
        with m.If(start):
            with m.If(self.read.payload.release):
                m.d.sync += [state.eq(_State.CLEAR), primed.eq(0)]
            with m.Else():
                m.d.comb += [rd.addr.eq(0), rd.en.eq(1)]
                m.d.sync += [state.eq(_State.PASS), primed.eq(1), word.eq(0), lane.eq(0),
                             token.eq(0)]
        return m
