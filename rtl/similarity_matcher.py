"""SIC similarity matcher: dot products, the threshold test and the best candidate."""

from types import SimpleNamespace

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith.dot_product import DotProduct
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
    """``lanes`` similarity units and a squared-norm unit: one beat of candidates per cycle.

    For every beat from the layouter each lane computes ``dot = x . y`` of the key and its
    candidate (``DotProduct``, the format's fixed adder tree); the norm unit computes
    ``|x|^2`` of the key on its first beat and writes it to the layouter's norm memory, from
    which later keys read the squared norms of their candidates. A candidate *passes* iff it
    is valid, ``dot > 0`` and ``dot**2 * 2**16 > theta2 * |x|^2 * |y|^2`` (spec 3.2 with
    ``theta2`` = theta**2 in Q0.16). The key's choice is the first passing candidate with
    the largest ``dot**2 / |y|^2`` (the largest cosine), found by an order-preserving tree
    over the lanes of a beat and a fold over the beats of the key. Every comparison is exact:
    int8 values are integers; fp32 values are split into integer significand and exponent
    and multiplied without rounding (only the dot-product adder tree rounds), so the result
    does not depend on the number of lanes. ``golden.sic`` is bit-exact.

    Parameters
    ----------
    numbers : SicNumbers
        Format hooks (``rtl.arith.sic_numbers``).
    vector_size : int
        V.
    lanes : int
        Candidates per beat (the ``matchers`` parameter).
    slot_bits : int
        Width of a layouter slot.
    m_tile : int
        Largest tile.

    Ports
    -----
    groups : In(stream.Signature(group_layout(...), always_ready=True))
        Beats from the layouter; all beats of a key arrive in consecutive cycles.
    theta2 : In(THETA_BITS)
        Threshold register, theta**2 in unsigned Q0.16 (constant while keys are in flight).
    norm_write_slot, norm_write_data, norm_write_en : Out
        Squared norm of every key, to the layouter.
    norm_read_slot : Out(ArrayLayout(slot_bits, lanes))
    norm_read_data : In(ArrayLayout(accumulator, lanes))
        The candidates' squared norms, one cycle after the slot.
    decisions : Out(stream.Signature(decision_layout(...), always_ready=True))
        One verdict per key, :attr:`latency` cycles after its first beat arrived.

    Throughput one beat per cycle, i.e. ``lanes`` candidate comparisons per cycle; there is
    no back-pressure.
    """

    def __init__(self, numbers, *, vector_size, lanes, slot_bits, m_tile, beats_per_key):
        self.numbers = numbers
        self.vector_size = vector_size
        self.lanes = lanes
        self.slot_bits = slot_bits
        self.m_tile = m_tile
        self.beats_per_key = beats_per_key
        fmt = numbers.fmt
        super().__init__({
            "groups": In(stream.Signature(group_layout(
                fmt.operand_shape, vector_size, lanes=lanes, slot_bits=slot_bits,
                m_tile=m_tile), always_ready=True)),
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
    def dot_latency(self):
        return DotProduct.latency_of(self.numbers.fmt, self.vector_size)

    @property
    def tree_levels(self):
        return (self.lanes - 1).bit_length()

    @staticmethod
    def latency_of(fmt, *, vector_size, lanes, beats_per_key):
        """Cycles from a key's first beat to its verdict: the dot products, the norm read,
        two compare stages, the lane tree, the beats of the key and the fold."""
        return (DotProduct.latency_of(fmt, vector_size) + 3 + (lanes - 1).bit_length()
                + (beats_per_key - 1) + 1)

    @property
    def latency(self):
        """:meth:`latency_of` this matcher."""
        return self.latency_of(self.numbers.fmt, vector_size=self.vector_size,
                               lanes=self.lanes, beats_per_key=self.beats_per_key)

    def elaborate(self, platform):
        m = Module()
        numbers, lanes = self.numbers, self.lanes
        beat = self.groups.payload
        dot_latency = self.dot_latency

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

        # --- dot products and the key's squared norm ----------------------------------------
        dots = []
        for lane in range(lanes):
            unit = m.submodules[f"dot{lane}"] = DotProduct(numbers.fmt, length=self.vector_size)
            m.d.comb += [unit.en.eq(1), unit.a.eq(beat.key), unit.b.eq(beat.candidates[lane])]
            dots.append(unit.result)
        norm_unit = m.submodules.norm = DotProduct(numbers.fmt, length=self.vector_size)
        m.d.comb += [norm_unit.en.eq(1), norm_unit.a.eq(beat.key), norm_unit.b.eq(beat.key)]

        marker = data.StructLayout({"valid": 1, "first": 1, "last": 1})
        entering = Signal(marker)
        m.d.comb += [entering.valid.eq(self.groups.valid), entering.first.eq(beat.first),
                     entering.last.eq(beat.last)]
        at_dot = marker(delay(entering.as_value(), dot_latency, "marker"))
        tag_at_dot = delay(beat.tag.as_value(), dot_latency, "tag")
        slots_at_dot = delay(beat.slots.as_value(), dot_latency, "slots")
        valid_at_dot = delay(beat.valid, dot_latency, "valid")
        tag_layout = key_tag_layout(slot_bits=self.slot_bits, m_tile=self.m_tile)
        m.d.comb += [
            self.norm_write_slot.eq(tag_layout(tag_at_dot).slot),
            self.norm_write_data.eq(norm_unit.result),
            self.norm_write_en.eq(at_dot.valid & at_dot.first),
            self.norm_read_slot.eq(slots_at_dot),
        ]

        # --- stage 1: decode; dot**2 and |x|^2 |y|^2 ------------------------------------------
        s1_marker = marker(register(at_dot.as_value(), "s1_marker"))
        s1_tag = register(tag_at_dot, "s1_tag")
        s1_slots = data.ArrayLayout(self.slot_bits, lanes)(register(slots_at_dot, "s1_slots"))
        s1_valid = register(valid_at_dot, "s1_valid")
        s1_dots = [register(dot, f"s1_dot{lane}") for lane, dot in enumerate(dots)]
        s1_norm = register(norm_unit.result, "s1_norm")
        held_norm = Signal.like(s1_norm)
        key_norm = Mux(s1_marker.first, s1_norm, held_norm)
        with m.If(s1_marker.valid & s1_marker.first):
            m.d.sync += held_norm.eq(s1_norm)
        _, key_m, key_e = numbers.decode(m, key_norm)
        mantissa_range = None
        if numbers.normalized_msb is not None:
            mantissa_range = (numbers.normalized_msb, numbers.normalized_msb)
        square_range = mantissa_range and _product_range(mantissa_range, mantissa_range)

        s2 = []
        for lane in range(lanes):
            negative, dot_m, dot_e = numbers.decode(m, s1_dots[lane])
            _, cand_m, cand_e = numbers.decode(m, self.norm_read_data[lane])
            s2.append(SimpleNamespace(
                ok=register(s1_valid[lane] & ~negative & (dot_m != 0), f"s2_ok{lane}"),
                p=register(dot_m * dot_m, f"s2_p{lane}"),
                p_exp=register(dot_e + dot_e, f"s2_pexp{lane}"),
                norms=register(key_m * cand_m, f"s2_norms{lane}"),
                norms_exp=register(key_e + cand_e, f"s2_normsexp{lane}"),
                q=register(cand_m, f"s2_q{lane}"),
                q_exp=register(cand_e, f"s2_qexp{lane}"),
                slot=register(s1_slots[lane], f"s2_slot{lane}"),
            ))
        s2_marker = marker(register(s1_marker.as_value(), "s2_marker"))
        s2_tag = register(s1_tag, "s2_tag")

        # --- stage 2: the threshold test -------------------------------------------------------
        theta_range = (0, THETA_BITS - 1)
        scaled_range = square_range and _product_range(theta_range, square_range)
        results = []
        for lane, lane_state in enumerate(s2):
            scaled = self.theta2 * lane_state.norms
            passes = lane_state.ok & _greater(
                m, lane_state.p, lane_state.p_exp + THETA_BITS, square_range,
                scaled, lane_state.norms_exp, scaled_range, f"threshold{lane}")
            results.append(SimpleNamespace(
                passes=register(passes, f"s3_pass{lane}"),
                p=register(lane_state.p, f"s3_p{lane}"),
                p_exp=register(lane_state.p_exp, f"s3_pexp{lane}"),
                q=register(lane_state.q, f"s3_q{lane}"),
                q_exp=register(lane_state.q_exp, f"s3_qexp{lane}"),
                slot=register(lane_state.slot, f"s3_slot{lane}"),
            ))
        s3_marker = marker(register(s2_marker.as_value(), "s3_marker"))
        s3_tag = register(s2_tag, "s3_tag")

        # --- the best of a beat (order-preserving tree), then of the key ----------------------
        cross_range = square_range and _product_range(square_range, mantissa_range)

        def better(later, earlier, name):
            """``later`` replaces ``earlier``: it passes and has a strictly larger cosine."""
            wins = _greater(m, later.p * earlier.q, later.p_exp + earlier.q_exp, cross_range,
                            earlier.p * later.q, earlier.p_exp + later.q_exp, cross_range,
                            name)
            take = later.passes & (~earlier.passes | wins)
            return SimpleNamespace(**{
                key: (getattr(earlier, key) if isinstance(getattr(earlier, key), int)
                      else Mux(take, getattr(later, key), getattr(earlier, key)))
                for key in ("passes", "p", "p_exp", "q", "q_exp", "slot")})

        level = 0
        while len(results) > 1:
            merged = [better(results[i + 1], results[i], f"tree{level}_{i}")
                      for i in range(0, len(results) - 1, 2)]
            merged += results[len(results) - len(results) % 2:]
            results = [SimpleNamespace(**{key: register(value, f"tree{level}_{i}_{key}")
                                          for key, value in vars(node).items()})
                       for i, node in enumerate(merged)]
            level += 1
        beat_best = results[0]
        fold_marker = marker(delay(s3_marker.as_value(), self.tree_levels, "fold_marker"))
        fold_tag = delay(s3_tag, self.tree_levels, "fold_tag")

        kept = SimpleNamespace(**{
            key: value if isinstance(value, int) else Signal.like(value, name=f"kept_{key}")
            for key, value in vars(beat_best).items()})
        folded = better(beat_best, kept, "fold")
        chosen = SimpleNamespace(**{
            key: value if isinstance(value, int)
            else Mux(fold_marker.first, value, getattr(folded, key))
            for key, value in vars(beat_best).items()})
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
