"""Correctly rounded group means: exact sums divided by the member count."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

#: Quotient bits resolved per pipeline stage of the restoring divider.
BITS_PER_STAGE = 4


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

    Parameters
    ----------
    numbers : SicNumbers
        Format hooks (``rtl.arith.sic_numbers``).
    lanes : int
        Elements per vector.
    m_tile : int
        Largest count.

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

    def __init__(self, numbers, *, lanes, m_tile):
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

    @property
    def stages(self):
        """Pipeline stages of the restoring divider."""
        return -(-self.numbers.quotient_bits // BITS_PER_STAGE)

    @staticmethod
    def latency_of(numbers):
        """:attr:`latency` of a unit for ``numbers`` (without building one)."""
        return -(-numbers.quotient_bits // BITS_PER_STAGE) + 2

    @property
    def latency(self):
        """Advancing cycles from the inputs to :attr:`mean`."""
        return self.latency_of(self.numbers)

    def elaborate(self, platform):
        m = Module()
        numbers = self.numbers
        quotient_bits = numbers.quotient_bits
        count_bits = len(self.count)
        twice_bits = numbers.sum_shape.width + 1

        def register(value, name):
            stage = Signal.like(value, name=name)
            with m.If(self.en):
                m.d.sync += stage.eq(value)
            return stage

        # Stage 0: magnitude, binade, the dividend and the bits it drops.
        if numbers.scaled:
            from .fp_common import leading_zeros
            count_length = Signal(range(twice_bits + 1))
            m.d.comb += count_length.eq(count_bits - leading_zeros(self.count))
        lanes = []
        for lane in range(self.lanes):
            total = self.sums[lane].as_signed()
            twice = Signal(twice_bits, name=f"twice{lane}")
            m.d.comb += twice.eq(Mux(total < 0, -total, total) << 1)
            dividend = Signal(quotient_bits + count_bits, name=f"dividend{lane}")
            if numbers.scaled:
                length = Signal(range(twice_bits + 1), name=f"length{lane}")
                m.d.comb += length.eq(twice_bits - leading_zeros(twice))
                # twice / count lies in [2**(g-1), 2**(g+1)) for g = length - count_length.
                excess = Signal(range(twice_bits + 1), name=f"excess{lane}")
                m.d.comb += excess.eq(length - count_length)
                below = (twice >> excess) < self.count
                scale = Signal(range(twice_bits), name=f"scale{lane}")
                with m.If(length >= count_length + quotient_bits):
                    m.d.comb += scale.eq(excess - (quotient_bits - 1) - below)
                m.d.comb += dividend.eq(twice >> scale)
                lost = (dividend << scale)[:twice_bits] != twice
            else:
                scale = 0
                m.d.comb += dividend.eq(twice)
                lost = 0
            lanes.append({
                "negative": register(total < 0, f"negative{lane}_s0"),
                "remainder": register(dividend, f"remainder{lane}_s0"),
                "quotient": Signal(quotient_bits, name=f"quotient{lane}_s0"),
                "scale": register(scale, f"scale{lane}_s0") if numbers.scaled else 0,
                "sticky": register(lost, f"sticky{lane}_s0"),
                "special": (register(self.specials[lane], f"special{lane}_s0")
                            if numbers.special_bits else 0),
            })
        count = register(self.count, "count_s0")

        # Restoring division, BITS_PER_STAGE quotient bits per stage, MSB first.
        for stage in range(self.stages):
            top = quotient_bits - 1 - stage * BITS_PER_STAGE
            bits = range(top, max(top - BITS_PER_STAGE, -1), -1)
            for lane, state in enumerate(lanes):
                remainder, quotient = state["remainder"], state["quotient"]
                for bit in bits:
                    divisor = count << bit
                    fits = remainder >= divisor
                    remainder = Mux(fits, remainder - divisor, remainder)
                    quotient = quotient | (fits << bit)
                state.update({
                    key: register(state[key], f"{key}{lane}_s{stage + 1}")
                    for key in ("negative", "sticky", "special")
                    if not isinstance(state[key], int)})
                state["remainder"] = register(remainder[:len(state["remainder"])],
                                              f"remainder{lane}_s{stage + 1}")
                state["quotient"] = register(quotient[:quotient_bits],
                                             f"quotient{lane}_s{stage + 1}")
                if numbers.scaled:
                    state["scale"] = register(state["scale"], f"scale{lane}_s{stage + 1}")
            count = register(count, f"count_s{stage + 1}")

        # Round to nearest even and assemble the operand.
        for lane, state in enumerate(lanes):
            quotient = state["quotient"]
            sticky = state["sticky"] | (state["remainder"] != 0)
            halves = quotient[0]
            kept = quotient[1:]
            rounded = kept + (halves & (sticky | kept[0]))
            value = numbers.assemble(m, state["negative"], rounded, state["scale"],
                                     state["special"])
            with m.If(self.en):
                m.d.sync += self.mean[lane].eq(value)
        return m
