"""SIC similarity matcher: dot products, the threshold test and the best candidate."""

from types import SimpleNamespace

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith.dot_product import DotProduct
from .arith.multiplier_tree import unsigned_product
from .layouts import decision_layout, group_layout, key_tag_layout

#: Fraction bits of the ``theta2`` register (theta squared, unsigned Q0.16).
THETA_BITS = 16


def _product_range(a, b):
    """Leading-one positions of a product of numbers with leading ones in ranges a, b."""
    return (a[0] + b[0], a[1] + b[1] + 1)


def _greater(m, a, a_exp, a_range, b, b_exp, b_range, name):
    """Exact ``a * 2**a_exp > b * 2**b_exp`` for unsigned ``a``, ``b``.

    ``a_range``/``b_range`` bound the position of the leading one of a non-zero ``a``/``b``
    (None: exponents are plain ints and the comparison is a shifted integer compare).
    Outside the window of exponent differences where the leading ones can meet the answer
    follows from the exponents alone; inside it one variable shift aligns the operands.
    """
    if a_range is None:
        return (a << max(a_exp - b_exp, 0)) > (b << max(b_exp - a_exp, 0))
    low = b_range[0] - a_range[1]          # a * 2**d < b for every d < low
    high = b_range[1] - a_range[0]         # a * 2**d > b for every d > high
    base = min(low, 0)
    difference = Signal(range(-(1 << 10), 1 << 10), name=f"{name}_difference")
    m.d.comb += difference.eq(a_exp - b_exp)
    shift = Signal(range(high - low + 1), name=f"{name}_shift")
    m.d.comb += shift.eq(difference - low)
    aligned = ((a << (low - base)) << shift) > (b << -base)
    inside = (difference >= low) & (difference <= high)
    return (a != 0) & ((b == 0) | (difference > high) | (inside & aligned))


class SimilarityMatcher(wiring.Component):
    """``lanes`` similarity units: the items of one beat per ``chunks`` cycles.

    For every beat from the layouter each lane computes ``dot = x . y`` of the key and its
    item (``DotProduct``, the format's fixed adder tree, folded over ``chunks`` cycles of
    ``V / chunks`` multipliers). Item 0, lane 0 of the key's first beat, is the key itself:
    its dot product is ``|x|^2``, which the matcher writes to the layouter's norm memory, from
    which later keys read the squared norms of their candidates. A candidate *passes* iff it
    is valid, ``dot > 0`` and ``dot**2 * 2**16 > theta2 * |x|^2 * |y|^2`` (spec 3.2 with
    ``theta2`` = theta**2 in Q0.16). The key's choice is the first passing candidate with
    the largest ``dot**2 / |y|^2`` (the largest cosine), found by an order-preserving tree
    over the lanes of a beat and a fold over the beats of the key. Every comparison is exact:
    int8 values are integers; fp32 values are split into integer significand and exponent
    and multiplied without rounding (only the dot-product adder tree rounds), so the result
    depends neither on the number of lanes nor on the width. ``golden.sic`` is bit-exact.

    Every product is a Dadda tree, and products and comparisons sit in separate pipeline
    stages (tree levels take two stages each); the fold over a key's beats takes two stages
    as well when a beat lasts two cycles or more (``chunks >= 2``), else one.

    Parameters
    ----------
    numbers : SicNumbers
        Format hooks (``fmt.sic_numbers``).
    vector_size : int
        V.
    lanes : int
        Items per beat (the ``matchers`` parameter).
    slot_bits : int
        Width of a layouter slot.
    m_tile : int
        Largest tile.
    beats_per_key : int
        Beats of a key (``G``).
    chunks : int
        Cycles per beat: each lane's dot product is folded over ``chunks`` cycles.

    Ports
    -----
    groups : In(stream.Signature(group_layout(...), always_ready=True))
        Transfers from the layouter; all transfers of a key arrive in consecutive cycles.
    theta2 : In(THETA_BITS)
        Threshold register, theta**2 in unsigned Q0.16 (constant while keys are in flight).
    norm_write_slot, norm_write_data, norm_write_en : Out
        Squared norm of every key, to the layouter.
    norm_read_slot : Out(ArrayLayout(slot_bits, lanes))
    norm_read_data : In(ArrayLayout(accumulator, lanes))
        The candidates' squared norms, one cycle after the slot.
    decisions : Out(stream.Signature(decision_layout(...), always_ready=True))
        One verdict per key, :attr:`latency` cycles after its first transfer arrived.

    Throughput one beat per ``chunks`` cycles, i.e. ``lanes`` items per beat; there is no
    back-pressure.
    """

    def __init__(self, numbers, *, vector_size, lanes, slot_bits, m_tile, beats_per_key,
                 chunks=1):
        self.numbers = numbers
        self.vector_size = vector_size
        self.lanes = lanes
        self.slot_bits = slot_bits
        self.m_tile = m_tile
        self.beats_per_key = beats_per_key
        self.chunks = chunks
        fmt = numbers.fmt
        super().__init__({
            "groups": In(stream.Signature(group_layout(
                fmt.operand_shape, vector_size, lanes=lanes, slot_bits=slot_bits,
                m_tile=m_tile, chunks=chunks), always_ready=True)),
            "theta2": In(THETA_BITS),
            "norm_write_slot": Out(slot_bits),
            "norm_write_data": Out(fmt.accumulator_shape),
            "norm_write_en": Out(1),
            "norm_read_slot": Out(data.ArrayLayout(slot_bits, lanes)),
            "norm_read_data": In(data.ArrayLayout(fmt.accumulator_shape, lanes)),
            "decisions": Out(stream.Signature(decision_layout(
                slot_bits=slot_bits, m_tile=m_tile), always_ready=True)),
        })

    @property
    def width(self):
        """Multipliers per lane (elements of a chunk)."""
        return self.vector_size // self.chunks

    @property
    def dot_latency(self):
        return DotProduct.latency_of(self.numbers.fmt, self.vector_size, self.width)

    @property
    def tree_levels(self):
        return (self.lanes - 1).bit_length()

    @staticmethod
    def fold_stages_of(chunks):
        """Stages of the fold over a key's beats: two when a beat lasts two cycles or more."""
        return 2 if chunks > 1 else 1

    @staticmethod
    def latency_of(fmt, *, vector_size, lanes, beats_per_key, chunks=1):
        """Cycles from a key's first transfer to its verdict: its transfers, the dot products
        (from the last chunk), the norm read, three product/compare stages, the lane tree
        (two stages a level) and the fold."""
        dot = DotProduct.latency_of(fmt, vector_size, vector_size // chunks)
        return (beats_per_key * chunks - 1 + dot + 4 + 2 * (lanes - 1).bit_length()
                + SimilarityMatcher.fold_stages_of(chunks))

    @property
    def latency(self):
        """:meth:`latency_of` this matcher."""
        return self.latency_of(self.numbers.fmt, vector_size=self.vector_size,
                               lanes=self.lanes, beats_per_key=self.beats_per_key,
                               chunks=self.chunks)

    def elaborate(self, platform):
        m = Module()
        numbers, lanes = self.numbers, self.lanes
        beat = self.groups.payload
        dot_latency = self.dot_latency
        product_count = 0

        def product(a, b):
            nonlocal product_count
            product_count += 1
            return unsigned_product(m, a, b, f"product{product_count}")

        def delay(value, cycles, name):
            for stage in range(cycles):
                register = Signal.like(value, name=f"{name}_d{stage}")
                m.d.sync += register.eq(value)
                value = register
            return value

        def register(value, name):
            if isinstance(value, int):
                return value
            return delay(value, 1, name)

        def registered(namespace, name):
            return SimpleNamespace(**{key: register(value, f"{name}_{key}")
                                      for key, value in vars(namespace).items()})

        # --- dot products; item 0 (lane 0 of a key's first beat) is the key's norm ----------
        folded = self.chunks > 1
        beat_done = self.groups.valid & (beat.chunk == self.chunks - 1 if folded else 1)
        dots = []
        for lane in range(lanes):
            unit = m.submodules[f"dot{lane}"] = DotProduct(numbers.fmt, length=self.vector_size,
                                                           width=self.width)
            m.d.comb += [unit.en.eq(1), unit.a.eq(beat.key), unit.b.eq(beat.candidates[lane])]
            if folded:
                m.d.comb += [unit.valid.eq(self.groups.valid), unit.chunk.eq(beat.chunk)]
            dots.append(unit.result)

        marker = data.StructLayout({"valid": 1, "first": 1, "last": 1})
        entering = Signal(marker)
        m.d.comb += [entering.valid.eq(beat_done), entering.first.eq(beat.first),
                     entering.last.eq(beat.last)]
        at_dot = marker(delay(entering.as_value(), dot_latency, "marker"))
        tag_at_dot = delay(beat.tag.as_value(), dot_latency, "tag")
        slots_at_dot = delay(beat.slots.as_value(), dot_latency, "slots")
        valid_at_dot = delay(beat.valid, dot_latency, "valid")
        tag_layout = key_tag_layout(slot_bits=self.slot_bits, m_tile=self.m_tile)
        m.d.comb += [
            self.norm_write_slot.eq(tag_layout(tag_at_dot).slot),
            self.norm_write_data.eq(dots[0]),
            self.norm_write_en.eq(at_dot.valid & at_dot.first),
            self.norm_read_slot.eq(slots_at_dot),
        ]

        # --- stage 1: registered dots; the candidates' norms arrive ---------------------------
        s1_marker = marker(register(at_dot.as_value(), "s1_marker"))
        s1_tag = register(tag_at_dot, "s1_tag")
        s1_slots = data.ArrayLayout(self.slot_bits, lanes)(register(slots_at_dot, "s1_slots"))
        s1_valid = register(valid_at_dot, "s1_valid")
        s1_dots = [register(dot, f"s1_dot{lane}") for lane, dot in enumerate(dots)]
        held_norm = Signal.like(s1_dots[0])
        key_norm = Mux(s1_marker.first, s1_dots[0], held_norm)
        with m.If(s1_marker.valid & s1_marker.first):
            m.d.sync += held_norm.eq(s1_dots[0])
        _, key_m, key_e = numbers.decode(m, key_norm)
        mantissa_range = None
        if numbers.normalized_msb is not None:
            mantissa_range = (numbers.normalized_msb, numbers.normalized_msb)
        square_range = mantissa_range and _product_range(mantissa_range, mantissa_range)

        # --- stage 2: dot**2 and |x|^2 |y|^2 -----------------------------------------------
        s2 = []
        for lane in range(lanes):
            negative, dot_m, dot_e = numbers.decode(m, s1_dots[lane])
            _, cand_m, cand_e = numbers.decode(m, self.norm_read_data[lane])
            s2.append(registered(SimpleNamespace(
                ok=s1_valid[lane] & ~negative & (dot_m != 0),
                p=product(dot_m, dot_m), p_exp=dot_e + dot_e,
                norms=product(key_m, cand_m), norms_exp=key_e + cand_e,
                q=cand_m, q_exp=cand_e, slot=s1_slots[lane]), f"s2_{lane}"))
        s2_marker = marker(register(s1_marker.as_value(), "s2_marker"))
        s2_tag = register(s1_tag, "s2_tag")

        # --- stage 3: theta**2 |x|^2 |y|^2 ----------------------------------------------------
        s3 = []
        for lane, state in enumerate(s2):
            s3.append(registered(SimpleNamespace(
                ok=state.ok, p=state.p, p_exp=state.p_exp,
                scaled=product(self.theta2, state.norms), norms_exp=state.norms_exp,
                q=state.q, q_exp=state.q_exp, slot=state.slot), f"s3_{lane}"))
        s3_marker = marker(register(s2_marker.as_value(), "s3_marker"))
        s3_tag = register(s2_tag, "s3_tag")

        # --- stage 4: the threshold test --------------------------------------------------------
        theta_range = (0, THETA_BITS - 1)
        scaled_range = square_range and _product_range(theta_range, square_range)
        results = []
        for lane, state in enumerate(s3):
            passes = state.ok & _greater(
                m, state.p, state.p_exp + THETA_BITS, square_range,
                state.scaled, state.norms_exp, scaled_range, f"threshold{lane}")
            results.append(registered(SimpleNamespace(
                passes=passes, p=state.p, p_exp=state.p_exp, q=state.q, q_exp=state.q_exp,
                slot=state.slot), f"s4_{lane}"))
        s4_marker = marker(register(s3_marker.as_value(), "s4_marker"))
        s4_tag = register(s3_tag, "s4_tag")

        # --- the best of a beat (order-preserving tree), then of the key ----------------------
        cross_range = square_range and _product_range(square_range, mantissa_range)
        fields = ("passes", "p", "p_exp", "q", "q_exp", "slot")

        def cross_products(later, earlier):
            """The products ``better`` compares: ``later.p * earlier.q`` and
            ``earlier.p * later.q`` with their exponents."""
            return SimpleNamespace(
                left=product(later.p, earlier.q), left_exp=later.p_exp + earlier.q_exp,
                right=product(earlier.p, later.q), right_exp=earlier.p_exp + later.q_exp)

        def take_later(later, earlier, cross, name):
            """``later`` replaces ``earlier``: it passes and has a strictly larger cosine."""
            wins = _greater(m, cross.left, cross.left_exp, cross_range,
                            cross.right, cross.right_exp, cross_range, name)
            return later.passes & (~earlier.passes | wins)

        def select(take, later, earlier):
            return SimpleNamespace(**{
                key: (getattr(earlier, key) if isinstance(getattr(earlier, key), int)
                      else Mux(take, getattr(later, key), getattr(earlier, key)))
                for key in fields})

        level = 0
        while len(results) > 1:
            pairs = [(results[i + 1], results[i]) for i in range(0, len(results) - 1, 2)]
            leftover = results[len(results) - len(results) % 2:]
            # products (registered with both operands), then compare and select (registered)
            staged = [(registered(later, f"tree{level}_{i}_later"),
                       registered(earlier, f"tree{level}_{i}_earlier"),
                       registered(cross_products(later, earlier), f"tree{level}_{i}_cross"))
                      for i, (later, earlier) in enumerate(pairs)]
            leftover = [registered(node, f"tree{level}_odd") for node in leftover]
            merged = [select(take_later(later, earlier, cross, f"tree{level}_{i}"), later,
                             earlier)
                      for i, (later, earlier, cross) in enumerate(staged)]
            results = [registered(node, f"tree{level}_{i}")
                       for i, node in enumerate(merged + leftover)]
            level += 1
        beat_best = results[0]
        fold_marker = marker(delay(s4_marker.as_value(), 2 * self.tree_levels, "fold_marker"))
        fold_tag = delay(s4_tag, 2 * self.tree_levels, "fold_tag")

        kept = SimpleNamespace(**{
            key: value if isinstance(value, int) else Signal.like(value, name=f"kept_{key}")
            for key, value in vars(beat_best).items()})
        if self.fold_stages_of(self.chunks) == 2:
            # A beat lasts two cycles or more: the products with the kept best are registered
            # before the comparison, which updates ``kept`` before the next beat arrives.
            later = registered(beat_best, "fold_later")
            cross = registered(cross_products(beat_best, kept), "fold_cross")
            fold_marker = marker(register(fold_marker.as_value(), "fold_marker_s"))
            fold_tag = register(fold_tag, "fold_tag_s")
        else:
            later, cross = beat_best, cross_products(beat_best, kept)
        folded_best = select(take_later(later, kept, cross, "fold"), later, kept)
        chosen = SimpleNamespace(**{
            key: value if isinstance(value, int)
            else Mux(fold_marker.first, value, getattr(folded_best, key))
            for key, value in vars(later).items()})
        with m.If(fold_marker.valid):
            m.d.sync += [getattr(kept, key).eq(value) for key, value in vars(chosen).items()
                         if not isinstance(value, int)]
        out = self.decisions.payload
        m.d.sync += self.decisions.valid.eq(fold_marker.valid & fold_marker.last)
        with m.If(fold_marker.valid & fold_marker.last):
            m.d.sync += [
                out.similar.eq(chosen.passes),
                out.best_slot.eq(chosen.slot),
                out.tag.eq(fold_tag),
            ]
        return m
