"""Correctly rounded group means: exact sums divided by the member count."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..hierarchy import INLINE
from .fp_common import leading_zeros

#: Quotient bits resolved per pipeline stage of the restoring divider (two trial
#: subtractions per cycle keep a stage below the array's fp32 adder stage, docs/area.md).
BITS_PER_STAGE = 2

#: Registers of a lane before its first division stage: the inputs; the magnitude; its binade
#: and the excess over the count's; the dividend's range test; the scaled dividend.
PREPARE_STAGES = 5


class RoundedMean(wiring.Component):
    """``lanes`` means ``sum[i] / count``, each rounded once to nearest-even into the operand.

    Every lane runs a restoring division of twice its exact sum by the shared count, which
    yields the quotient, a rounding bit and (from the remainder) a sticky bit. int8: the
    integer mean rounded half to even. fp16 (sums in units of 2**-24): the division first
    drops the ``j`` low bits of the dividend (into the sticky bit), with ``j = max(0,
    floor(log2(|sum| / count)) - 10)`` the binade of the quotient, so that 11 quotient bits
    round like IEEE round-to-nearest-even; the binary16 magnitude is then
    ``quotient + (j << 10)``, subnormals included. The result is the correctly rounded mean
    (error at most half an ulp); ``golden.sic`` computes it from the definition.

    The count pipeline is shared; each lane's divider is a :class:`MeanLane` (one module,
    instantiated ``lanes`` times by the generator).

    Parameters
    ----------
    numbers : SicNumbers
        Format hooks (``fmt.sic_numbers``).
    lanes : int
        Elements per vector.
    m_tile : int
        Largest count.
    hierarchy : rtl.hierarchy.Hierarchy
        Builds the lanes (inline by default).

    Ports
    -----
    en : In(1)
        Pipeline advance.
    sums : In(ArrayLayout(numbers.sum_shape, lanes))
        Exact group sums.
    specials : In(ArrayLayout(numbers.special_bits, lanes))
        Special-value codes (fp16 infinities / NaN of singleton groups), passed through.
        Absent when the format has none (int8).
    count : In(range(m_tile + 1))
        Members of the group, >= 1.
    mean : Out(ArrayLayout(operand, lanes))
        The representative, :attr:`latency` advancing cycles after the inputs.

    Throughput one vector per advancing cycle.
    """

    def __init__(self, numbers, *, lanes, m_tile, hierarchy=INLINE):
        self.numbers = numbers
        self.lanes = lanes
        self.m_tile = m_tile
        ports = {
            "en": In(1),
            "sums": In(data.ArrayLayout(numbers.sum_shape, lanes)),
            "count": In(range(m_tile + 1)),
            "mean": Out(data.ArrayLayout(numbers.fmt.operand_shape, lanes)),
        }
        if numbers.special_bits:
            ports["specials"] = In(data.ArrayLayout(numbers.special_bits, lanes))
        super().__init__(ports)
        self.units = [hierarchy.build(MeanLane, numbers, m_tile=m_tile) for _ in range(lanes)]

    @property
    def stages(self):
        """Pipeline stages of the restoring divider."""
        return stages_of(self.numbers)

    @staticmethod
    def latency_of(numbers):
        """:attr:`latency` of a unit for ``numbers`` (without building one)."""
        return PREPARE_STAGES + stages_of(numbers) + 1

    @property
    def latency(self):
        """Advancing cycles from the inputs to :attr:`mean`."""
        return self.latency_of(self.numbers)

    def elaborate(self, platform):
        m = Module()
        count_bits = len(self.count)
        # The count, registered along the lanes' stages, serves every lane.
        counts = [self.count]
        for stage in range(PREPARE_STAGES + self.stages):
            counts.append(_register(m, self.en, counts[-1], f"count_s{stage}"))
        if self.numbers.scaled:
            # its bit length, as the lanes' binade stage (after two registers) needs it
            count_length = Signal(range(self.numbers.sum_shape.width + 2))
            m.d.comb += count_length.eq(count_bits - leading_zeros(counts[2]))
        for lane, unit in enumerate(self.units):
            m.submodules[f"lane{lane}"] = unit
            m.d.comb += [
                unit.en.eq(self.en),
                unit.sum.eq(self.sums[lane]),
                unit.counts.eq(Cat(*counts)),
                self.mean[lane].eq(unit.mean),
            ]
            if self.numbers.special_bits:
                m.d.comb += unit.special.eq(self.specials[lane])
            if self.numbers.scaled:
                m.d.comb += unit.count_length.eq(count_length)
        return m


def stages_of(numbers):
    """Pipeline stages of the restoring divider for ``numbers``."""
    return -(-numbers.quotient_bits // BITS_PER_STAGE)


def _register(m, en, value, name):
    stage = Signal.like(value, name=name)
    with m.If(en):
        m.d.sync += stage.eq(value)
    return stage


class MeanLane(wiring.Component):
    """One lane of :class:`RoundedMean`: ``sum / count`` rounded into an operand.

    Ports
    -----
    en : In(1)
        Pipeline advance.
    sum : In(numbers.sum_shape)
        Exact group sum.
    special : In(numbers.special_bits)
        Special-value code, passed through (absent for int8).
    counts : In(ArrayLayout(range(m_tile + 1), PREPARE_STAGES + stages + 1))
        The count as it enters (index 0) and after each register of the shared count
        pipeline.
    count_length : In(range(...))
        Bit length of ``counts[2]`` (formats with ``numbers.scaled`` only).
    mean : Out(operand)
        The rounded mean, ``PREPARE_STAGES + stages + 1`` advancing cycles after the inputs.

    Stages: (1) the inputs registered; (2) ``2 |sum|``; (3) its bit length and the excess over
    the count's (fp16); (4) whether the shifted dividend falls below the count; (5) the
    scaled dividend and the bits it drops; then ``stages`` division stages of
    :data:`BITS_PER_STAGE` quotient bits and the rounding.
    """

    def __init__(self, numbers, *, m_tile):
        self.numbers = numbers
        self.m_tile = m_tile
        count = range(m_tile + 1)
        ports = {
            "en": In(1),
            "sum": In(numbers.sum_shape),
            "counts": In(data.ArrayLayout(count, PREPARE_STAGES + stages_of(numbers) + 1)),
            "mean": Out(numbers.fmt.operand_shape),
        }
        if numbers.special_bits:
            ports["special"] = In(numbers.special_bits)
        if numbers.scaled:
            ports["count_length"] = In(range(numbers.sum_shape.width + 2))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        numbers = self.numbers
        quotient_bits = numbers.quotient_bits
        count = self.counts[0]
        count_bits = len(count)
        twice_bits = numbers.sum_shape.width + 1

        def register(value, name):
            return _register(m, self.en, value, name)

        # (1) inputs; (2) the magnitude, doubled (the rounding bit of the quotient).
        total = register(self.sum, "sum_s1").as_signed()
        special = register(self.special, "special_s1") if numbers.special_bits else 0
        twice = register(Mux(total < 0, -total, total) << 1, "twice_s2")[:twice_bits]
        negative = register(total < 0, "negative_s2")
        special = register(special, "special_s2") if numbers.special_bits else 0
        dividend = Signal(quotient_bits + count_bits, name="dividend")
        if numbers.scaled:
            # (3) twice / count lies in [2**(g-1), 2**(g+1)) for g = length - count_length.
            length = Signal(range(twice_bits + 1), name="length")
            m.d.comb += length.eq(twice_bits - leading_zeros(twice))
            excess = register(length - self.count_length, "excess_s3")[:len(length)]
            wide = register(length >= self.count_length + quotient_bits, "wide_s3")
            twice3 = register(twice, "twice_s3")
            # (4) whether the dividend shifted by the excess falls below the count
            below = register((twice3 >> excess) < self.counts[3], "below_s4")
            excess4 = register(excess, "excess_s4")
            wide4 = register(wide, "wide_s4")
            twice4 = register(twice3, "twice_s4")
            # (5) the scaled dividend; the bits it drops make the sticky bit
            scale = Signal(range(twice_bits), name="scale")
            with m.If(wide4):
                m.d.comb += scale.eq(excess4 - (quotient_bits - 1) - below)
            m.d.comb += dividend.eq(twice4 >> scale)
            dropped = Signal(twice_bits, name="dropped")
            m.d.comb += dropped.eq((1 << scale) - 1)
            lost = (twice4 & dropped) != 0
        else:
            scale = 0
            m.d.comb += dividend.eq(register(register(twice, "twice_s3"), "twice_s4"))
            lost = 0
        carried = {"negative": negative, "special": special}
        for stage in (3, 4):
            carried = {key: register(value, f"{key}_s{stage}") if not isinstance(value, int)
                       else value for key, value in carried.items()}
        state = {
            "negative": register(carried["negative"], "negative_s5"),
            "remainder": register(dividend, "remainder_s5"),
            "quotient": Signal(quotient_bits, name="quotient_s5"),
            "scale": register(scale, "scale_s5") if numbers.scaled else 0,
            "sticky": register(lost, "sticky_s5"),
            "special": (register(carried["special"], "special_s5") if numbers.special_bits
                        else 0),
        }

        # Restoring division, BITS_PER_STAGE quotient bits per stage, MSB first.
        for stage in range(stages_of(numbers)):
            count = self.counts[PREPARE_STAGES + stage]
            top = quotient_bits - 1 - stage * BITS_PER_STAGE
            remainder, quotient = state["remainder"], state["quotient"]
            for bit in range(top, max(top - BITS_PER_STAGE, -1), -1):
                divisor = count << bit
                fits = remainder >= divisor
                remainder = Mux(fits, remainder - divisor, remainder)
                quotient = quotient | (fits << bit)
            state.update({key: register(state[key], f"{key}_d{stage + 1}")
                          for key in ("negative", "sticky", "special", "scale")
                          if not isinstance(state[key], int)})
            state["remainder"] = register(remainder[:len(state["remainder"])],
                                          f"remainder_d{stage + 1}")
            state["quotient"] = register(quotient[:quotient_bits], f"quotient_d{stage + 1}")

        # Round to nearest even and assemble the operand.
        quotient = state["quotient"]
        sticky = state["sticky"] | (state["remainder"] != 0)
        halves = quotient[0]
        kept = quotient[1:]
        rounded = kept + (halves & (sticky | kept[0]))
        value = numbers.assemble(m, state["negative"], rounded, state["scale"],
                                 state["special"])
        with m.If(self.en):
            m.d.sync += self.mean.eq(value)
        return m
