"""Dot product of two operand vectors in an arithmetic format's accumulator, optionally folded
over several cycles of ``width`` multipliers each."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..parameters import check_choice, check_int


def fold_widths(length):
    """The legal ``width`` of a :class:`DotProduct` of ``length`` elements: ``length``
    itself, and when ``length`` is a power of two every smaller power of two (the folded sum
    then follows exactly the order of the full tree)."""
    if length & (length - 1):
        return (length,)
    return tuple(1 << k for k in range(length.bit_length()))


class DotProduct(wiring.Component):
    """``sum_i a[i] * b[i]`` with the format's multiplier and a balanced adder tree.

    The summation order is fixed: level 0 holds the ``length`` products in element order;
    every level adds neighbours ``(0, 1), (2, 3), ...`` and delays an odd last term by one
    adder latency, until one term is left (``golden.sic.dot_products`` is bit-exact).

    Folded (``width < length``, both powers of two): ``width`` multipliers and a tree of
    ``width - 1`` adders reduce one *chunk* (``width`` consecutive elements) per cycle; the
    ``length / width`` chunk sums of a dot product are combined by one adder per level of an
    aligned binary tree (chunks ``(0, 1), (2, 3)``, then pairs of those...), i.e. in exactly
    the order of the full tree: the result does not depend on ``width``.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Operand/accumulator format (``rtl.arith``): int8 gives exact int32 sums, fp16 exact
        fp32 products and fp32 round-to-nearest-even additions.
    length : int
        Elements per vector.
    width : int, optional
        Multipliers (elements per cycle), one of :func:`fold_widths` (default ``length``).

    Ports
    -----
    en : In(1)
        Pipeline advance: every register moves only while it is high.
    valid : In(1)
        A chunk is presented (folded units only; otherwise absent).
    chunk : In(range(length // width))
        Which chunk of ``a`` and ``b`` to reduce this cycle; a dot product presents chunks
        ``0, 1, ...`` in consecutive advancing cycles (folded units only).
    a, b : In(ArrayLayout(operand, length))
        The vectors, sampled on advancing cycles (held while their chunks are presented).
    result : Out(accumulator)
        The dot product, :attr:`latency` advancing cycles after its last chunk was presented
        (after the vectors, when not folded).

    Throughput one dot product per ``length / width`` advancing cycles.
    """

    def __init__(self, fmt, *, length, width=None):
        check_int("DotProduct", "length", length)
        width = check_choice("DotProduct", "width", length if width is None else width,
                             fold_widths(length), f"for length {length}")
        self.fmt = fmt
        self.length = length
        self.width = width
        self.chunks = length // width
        vector = data.ArrayLayout(fmt.operand_shape, length)
        ports = {
            "en": In(1),
            "a": In(vector),
            "b": In(vector),
            "result": Out(fmt.accumulator_shape),
        }
        if self.chunks > 1:
            ports.update(valid=In(1), chunk=In(range(self.chunks)))
        super().__init__(ports)

    @staticmethod
    def latency_of(fmt, length, width=None):
        """:attr:`latency` of a unit for ``fmt``, ``length`` and ``width`` (without building
        one)."""
        width = length if width is None else width
        chunk_levels = (length // width - 1).bit_length()
        return (fmt.mul_latency + (width - 1).bit_length() * fmt.add_latency
                + chunk_levels * fmt.add_latency)

    @property
    def latency(self):
        """Advancing cycles from the last chunk (or the operands) to :attr:`result`."""
        return self.latency_of(self.fmt, self.length, self.width)

    def elaborate(self, platform):
        m = Module()
        fmt, width = self.fmt, self.width
        a, b = self._chunk_operands(m) if self.chunks > 1 else (list(self.a), list(self.b))
        terms = [fmt.multiply(m, a[i], b[i], self.en) for i in range(width)]
        level = 0
        while len(terms) > 1:
            paired = [fmt.add(m, terms[i], terms[i + 1], self.en)
                      for i in range(0, len(terms) - 1, 2)]
            if len(terms) % 2:
                paired.append(self._delay(m, terms[-1], fmt.add_latency, f"carry_l{level}"))
            terms = paired
            level += 1
        total = terms[0]
        if self.chunks > 1:
            total = self._combine_chunks(m, total)
        m.d.comb += self.result.eq(total)
        return m

    def _delay(self, m, value, cycles, name):
        """``value`` after ``cycles`` advancing cycles."""
        for stage in range(cycles):
            delayed = Signal.like(value, name=f"{name}_d{stage}")
            with m.If(self.en):
                m.d.sync += delayed.eq(value)
            value = delayed
        return value

    def _chunk_operands(self, m):
        """The ``width`` element pairs of the presented chunk, selected from the held vectors."""
        fmt, width = self.fmt, self.width
        a = [Signal(fmt.operand_shape, name=f"a{i}") for i in range(width)]
        b = [Signal(fmt.operand_shape, name=f"b{i}") for i in range(width)]
        for i in range(width):
            m.d.comb += [
                a[i].eq(self.a.as_value().word_select(self.chunk * width + i, fmt.operand_width)),
                b[i].eq(self.b.as_value().word_select(self.chunk * width + i, fmt.operand_width)),
            ]
        return a, b

    def _combine_chunks(self, m, total):
        """The dot product from the stream of chunk sums ``total``: an aligned binary tree in
        which level ``k`` holds an even (left) operand until its odd (right) neighbour
        arrives, so the additions are those of the full tree."""
        fmt = self.fmt
        tree_latency = fmt.mul_latency + (self.width - 1).bit_length() * fmt.add_latency
        valid = self._delay(m, self.valid, tree_latency, "chunk_valid")
        index = self._delay(m, self.chunk, tree_latency, "chunk_index")
        for level in range((self.chunks - 1).bit_length()):
            held = Signal(fmt.accumulator_shape, name=f"held{level}")
            with m.If(self.en & valid & ~index[0]):
                m.d.sync += held.eq(total)
            total = fmt.add(m, held, total, self.en)
            valid = self._delay(m, valid & index[0], fmt.add_latency, f"valid_l{level}")
            index = self._delay(m, index >> 1, fmt.add_latency, f"index_l{level}")
        return total
