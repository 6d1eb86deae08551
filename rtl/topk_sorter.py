"""SEC top-k sorter: multi-pass selection with a sort_width-long insertion chain."""

from amaranth.hdl import Array, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .parameters import check_int
from .layouts import READ_REQUEST, groups, importance_beat, index_beat
from .sec_common import lowest_set_bit


class SorterError(enum.Enum, shape=1):
    """Bit positions of the sticky ``error`` port of :class:`TopKSorter`."""
    BAD_K = 0      #: k was 0 or above M; the selection used k clamped to [1, M]
    BAD_PASS = 1   #: a pass was longer than max_tokens (pass 1) or not M tokens long (later)


class _Phase(enum.Enum, shape=2):
    IDLE = 0      # asking for the first pass of the next layer
    PASS = 1      # consuming an importance pass
    UNLOAD = 2    # marking the final pass's chain entries in the keep mask
    WALK = 3      # streaming the keep mask out as ascending indices


class TopKSorter(wiring.Component):
    """Selects the top k of M importance values, emitting the selected indices ascending.

    Total order (spec 2.2): higher importance first; on equal importance the lower index.

    Algorithm
    ---------
    Pass ``p = 1, 2, ...`` streams all M tokens in token order through a chain of ``a =
    sort_width`` cells kept sorted best-first. A token enters only if it comes strictly after
    the threshold ``T`` of pass ``p - 1`` in the total order (pass 1: every token); it is
    inserted in parallel in one cycle (each cell compares it with its own entry, the cells
    below the insertion point shift down, the last entry drops out). Tokens of one pass arrive
    in ascending index order, so the chain only compares values: an equal value goes below.
    ``T_p`` is the chain's last cell. After ``P = ceil(k/a)`` passes the k-th best token is
    ``T_P``, the ``r``-th cell of the final chain (``r = k - (P-1) a``).

    The selection is recorded in a keep mask (``amaranth.lib.memory``, ``ceil(max_tokens/a)``
    words of ``a`` bits): every pass rewrites the mask words in token order with "at or before
    ``T_{p-1}``" (pass 1 thus clears them), then the ``r`` final chain entries are set one bit
    per cycle. The mask is walked word by word and the set bits leave as indices.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Number format: importance width W (``fmt.importance_width``).
    sort_width : int
        Chain length ``a``.
    max_tokens : int
        Largest M.

    Ports
    -----
    importance : In(stream.Signature(rtl.sec_common.importance_beat(W)))
        Importance passes: M tokens in token order, ``last`` on token M - 1. Every pass of a
        layer must be identical (the analyzer guarantees it). Pass 1 sets M; tokens past
        ``max_tokens`` (pass 1) or past M (later passes) are ignored and a short later pass
        ends early; both raise ``BAD_PASS``.
    read : Out(stream.Signature(rtl.sec_common.READ_REQUEST))
        Pass requests to the analyzer. The request for the next pass (or the release after
        the final one) is raised as soon as it is known, during the current pass, so that
        passes run back to back.
    k : In(range(max_tokens + 1))
        Runtime register, sampled when the layer's first pass request is accepted.
        0 or above M raises ``BAD_K``; k is then clamped to ``[1, M]``.
    selected : Out(stream.Signature(rtl.sec_common.index_beat(max_tokens)))
        The selected indices, ascending, ``last`` on the largest; registered.
    error : Out(len(SorterError))
        Sticky error bits (:class:`SorterError`), cleared by reset.
    busy : Out(1)
        High from the first pass request's acceptance to the final index.

    Timing
    ------
    With the importance source at one token per cycle and no back-pressure, from the first
    importance beat to the final index: ``P*M + r + k + E + 3`` cycles, where ``E`` counts the
    mask words other than the last that hold no selected token (``E < ceil(M/a)``); the
    passes alone take ``P*M`` (model: ``golden.sec.sorter_cycles``). The published figure
    is ``P*M``. Back-pressure on ``selected`` stalls only the final mask walk.
    """

    def __init__(self, fmt, *, sort_width, max_tokens):
        check_int("TopKSorter", "sort_width", sort_width)
        check_int("TopKSorter", "max_tokens", max_tokens)
        self.fmt, self.sort_width, self.max_tokens = fmt, sort_width, max_tokens
        self.value_width = fmt.importance_width
        super().__init__({
            "importance": In(stream.Signature(importance_beat(self.value_width))),
            "read": Out(stream.Signature(READ_REQUEST)),
            "k": In(range(max_tokens + 1)),
            "selected": Out(stream.Signature(index_beat(max_tokens))),
            "error": Out(len(SorterError)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        a, n = self.sort_width, self.max_tokens
        words = groups(n, a)
        entry = data.StructLayout({"valid": 1, "value": unsigned(self.value_width),
                                   "word": range(words), "lane": range(a)})

        m.submodules.mask = mask = memory.Memory(shape=unsigned(a), depth=words, init=[])
        wr = mask.write_port(granularity=1)
        rd = mask.read_port()
        m.d.comb += rd.en.eq(0)            # (its reset value is 1)

        phase = Signal(_Phase)
        m.d.comb += self.busy.eq(phase != _Phase.IDLE)

        # --- layer registers ---------------------------------------------------------------
        k = Signal(range(n + 1))           # k as sampled
        tokens = Signal(range(n + 1))      # M, from pass 1
        last_word = Signal(range(words))   # mask word of token M - 1
        taken = Signal(range(n + 1))       # tokens selected by the passes before this one
        first_pass = Signal()
        fresh = Signal()                   # the next beat is the first of a pass
        issued = Signal()                  # the request following this pass has been raised

        # --- pass requests -----------------------------------------------------------------
        with m.If(self.read.ready):
            m.d.sync += self.read.valid.eq(0)
        request_accepted = self.read.valid & self.read.ready
        with m.If((phase == _Phase.IDLE) & ~request_accepted):
            m.d.sync += [self.read.valid.eq(1), self.read.payload.release.eq(0)]

        # --- one token of a pass --------------------------------------------------------------
        beat = self.importance.payload
        m.d.comb += self.importance.ready.eq(phase == _Phase.PASS)
        accepted = self.importance.valid & self.importance.ready
        count = Signal(range(n + 1))       # in-range tokens seen in this pass
        word = Signal(range(words))        # coordinates of the next in-range token
        lane = Signal(range(a))
        limit = Mux(first_pass, n, tokens)
        in_range = count < limit

        chain = [Signal(entry, name=f"cell{j}") for j in range(a)]
        threshold = Signal(entry)
        current = Mux(fresh, chain[-1].as_value(), threshold.as_value())
        current = entry(current)
        after_threshold = ((beat.value < current.value)
                           | ((beat.value == current.value)
                              & ((word > current.word)
                                 | ((word == current.word) & (lane > current.lane)))))
        eligible = in_range & (first_pass | after_threshold)
        kept_before = in_range & ~first_pass & ~after_threshold

        # insertion: cell j takes the token (or its upper neighbour) if the token beats it
        beats_cell = [~cell.valid | (beat.value > cell.value) for cell in chain]
        with m.If(accepted):
            m.d.sync += fresh.eq(0)
            with m.If(fresh):
                m.d.sync += threshold.eq(chain[-1])
                m.d.sync += [cell.valid.eq(0) for cell in chain]
                with m.If(eligible):
                    m.d.sync += [chain[0].valid.eq(1), chain[0].value.eq(beat.value),
                                 chain[0].word.eq(word), chain[0].lane.eq(lane)]
            with m.Elif(eligible):
                for j, cell in enumerate(chain):
                    with m.If(beats_cell[j]):
                        if j == 0:
                            shifted = Const(0, 1)
                        else:
                            shifted = beats_cell[j - 1]
                        with m.If(shifted):
                            m.d.sync += cell.eq(chain[j - 1])
                        with m.Else():
                            m.d.sync += [cell.valid.eq(1), cell.value.eq(beat.value),
                                         cell.word.eq(word), cell.lane.eq(lane)]

        # keep-mask rewrite in token order: bit = "selected by an earlier pass"
        pending_bits = Signal(a)
        word_bits = Signal(a)
        m.d.comb += word_bits.eq(pending_bits | (kept_before << lane))
        count_next = Signal(range(n + 1))
        m.d.comb += count_next.eq(Mux(in_range, count + 1, count))
        with m.If(accepted & in_range):
            m.d.sync += [count.eq(count + 1), pending_bits.eq(word_bits)]
            with m.If(first_pass):
                m.d.sync += last_word.eq(word)
            with m.If((lane == a - 1) | beat.last | (count_next == limit)):
                m.d.comb += [wr.addr.eq(word), wr.data.eq(word_bits), wr.en.eq(-1)]
                m.d.sync += [pending_bits.eq(0), word.eq(word + 1), lane.eq(0)]
            with m.Else():
                m.d.sync += lane.eq(lane + 1)
        with m.If(accepted & ~in_range):
            m.d.sync += self.error[SorterError.BAD_PASS.value].eq(1)

        # --- deciding the next request ------------------------------------------------------
        known_tokens = Mux(first_pass, count, tokens)
        more = (k > taken + a) & (known_tokens > taken + a)
        final_known = (k <= taken + a) | ~first_pass
        with m.If((phase == _Phase.PASS) & ~issued & ~self.read.valid & (more | final_known)):
            m.d.sync += [self.read.valid.eq(1), self.read.payload.release.eq(~more),
                         issued.eq(1)]

        pass_end = accepted & beat.last
        final_tokens = Mux(first_pass, count_next, tokens)
        k_used = Signal(range(n + 1))
        with m.If(k == 0):
            m.d.comb += k_used.eq(1)
        with m.Elif(k > final_tokens):
            m.d.comb += k_used.eq(final_tokens)
        with m.Else():
            m.d.comb += k_used.eq(k)
        need_more = k_used > taken + a
        remaining = Signal(range(a + 1))
        unload = Signal(range(a))
        with m.If(pass_end):
            m.d.sync += [count.eq(0), word.eq(0), lane.eq(0), pending_bits.eq(0),
                         first_pass.eq(0), fresh.eq(1), issued.eq(0)]
            with m.If(first_pass):
                m.d.sync += tokens.eq(count_next)
                with m.If((k == 0) | (k > count_next)):
                    m.d.sync += self.error[SorterError.BAD_K.value].eq(1)
            with m.Elif(count_next != tokens):
                m.d.sync += self.error[SorterError.BAD_PASS.value].eq(1)
            with m.If(~issued):
                m.d.sync += [self.read.valid.eq(1), self.read.payload.release.eq(~need_more)]
            with m.If(need_more):
                m.d.sync += taken.eq(taken + a)
            with m.Else():
                m.d.sync += [phase.eq(_Phase.UNLOAD), remaining.eq(k_used - taken),
                             unload.eq(0)]

        with m.If((phase == _Phase.IDLE) & request_accepted):
            m.d.sync += [phase.eq(_Phase.PASS), k.eq(self.k), taken.eq(0), first_pass.eq(1),
                         fresh.eq(1), issued.eq(0)]

        # --- unload: set the final chain entries' mask bits ---------------------------------
        walk_primed = Signal()
        with m.If(phase == _Phase.UNLOAD):
            target = Array(chain)[unload]
            with m.If(target.valid):
                m.d.comb += [wr.addr.eq(target.word), wr.data.eq(-1),
                             wr.en.eq(Const(1, a) << target.lane)]
            with m.If(unload + 1 == remaining):
                m.d.sync += [phase.eq(_Phase.WALK), walk_primed.eq(0)]
            with m.Else():
                m.d.sync += unload.eq(unload + 1)

        # --- walk: mask bits -> ascending indices (one beat held back to mark `last`) -------
        current_word = Signal(range(words))
        base = Signal(range(words * a))
        popped = Signal(a)
        held = Signal(index_beat(n))
        held_valid = Signal()
        remaining_bits = Signal(a)
        m.d.comb += remaining_bits.eq(rd.data & ~popped)
        found, low = lowest_set_bit(remaining_bits)
        rest = remaining_bits & (remaining_bits - 1)
        at_last_word = current_word == last_word
        out_free = ~self.selected.valid | self.selected.ready

        with m.If(self.selected.ready):
            m.d.sync += self.selected.valid.eq(0)

        def advance():
            m.d.comb += [rd.addr.eq(current_word + 1), rd.en.eq(1)]
            m.d.sync += [current_word.eq(current_word + 1), base.eq(base + a), popped.eq(0)]

        with m.If(phase == _Phase.WALK):
            with m.If(~walk_primed):
                m.d.comb += [rd.addr.eq(0), rd.en.eq(1)]
                m.d.sync += [walk_primed.eq(1), current_word.eq(0), base.eq(0), popped.eq(0),
                             held_valid.eq(0), held.eq(0)]
            with m.Elif(found):
                with m.If(~held_valid | out_free):
                    with m.If(held_valid):
                        m.d.sync += [self.selected.valid.eq(1),
                                     self.selected.payload.index.eq(held.index),
                                     self.selected.payload.last.eq(0)]
                    m.d.sync += [held_valid.eq(1), held.index.eq(base + low)]
                    with m.If((rest == 0) & ~at_last_word):
                        advance()
                    with m.Else():
                        m.d.sync += popped.eq(popped | (remaining_bits ^ rest))
            with m.Elif(~at_last_word):
                advance()
            with m.Elif(out_free):
                # held_valid is 0 only after a BAD_PASS; then index 0 closes the layer.
                m.d.sync += [self.selected.valid.eq(1),
                             self.selected.payload.index.eq(held.index),
                             self.selected.payload.last.eq(1),
                             held_valid.eq(0), phase.eq(_Phase.IDLE)]
        return m
