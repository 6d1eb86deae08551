"""Building blocks shared by the IEEE 754 units: field decoding, leading-zero count,
and configurable pipeline cuts."""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Mux, Signal


def unpack(m, bits, *, exponent_bits, fraction_bits, name):
    """Decode an IEEE 754 bit pattern into named wires.

    Returns a namespace with ``sign``, ``exponent`` (the biased exponent of the value, 1 for
    subnormals), ``significand`` (``fraction_bits + 1`` bits, hidden bit included),
    and the class flags ``zero``, ``inf``, ``nan``.
    """
    bits = wire(m, bits, f"{name}_bits")
    field = bits[fraction_bits:fraction_bits + exponent_bits]
    fraction = bits[:fraction_bits]
    all_ones = (1 << exponent_bits) - 1
    wires = SimpleNamespace(
        sign=Signal(name=f"{name}_sign"),
        exponent=Signal(exponent_bits, name=f"{name}_exponent"),
        significand=Signal(fraction_bits + 1, name=f"{name}_significand"),
        zero=Signal(name=f"{name}_zero"),
        inf=Signal(name=f"{name}_inf"),
        nan=Signal(name=f"{name}_nan"),
    )
    m.d.comb += [
        wires.sign.eq(bits[fraction_bits + exponent_bits]),
        wires.exponent.eq(Mux(field == 0, 1, field)),
        wires.significand.eq(Cat(fraction, field != 0)),
        wires.zero.eq((field == 0) & (fraction == 0)),
        wires.inf.eq((field == all_ones) & (fraction == 0)),
        wires.nan.eq((field == all_ones) & (fraction != 0)),
    ]
    return wires


def wire(m, value, name):
    """A named combinational signal carrying ``value``.

    Amaranth copies an expression wherever it is used, so every intermediate value that is
    used more than once goes through a wire.
    """
    signal = Signal.like(value, name=name)
    m.d.comb += signal.eq(value)
    return signal


def leading_zeros(value, m=None, name="lzc"):
    """Number of leading zeros of ``value`` (its width when it is zero).

    A balanced tree of 2:1 priority merges, ``ceil(log2(width + 1))`` levels deep. With a
    module ``m`` every tree node is a named wire of ``m`` (compact Verilog); without, the
    result is one expression (then pass a signal, not an expression, as ``value``).
    """
    width = len(value)
    levels = width.bit_length()
    # Pad with ones below the LSB to a power of two above `width`: an all-zero input then
    # counts exactly `width`, and the tree never sees an all-zero word.
    pad = (1 << levels) - width
    node = (lambda v, n: v) if m is None else (lambda v, n: wire(m, v, n))
    padded = node(Cat(Const((1 << pad) - 1, pad), value), f"{name}_padded")
    _, count = _lzc_tree(padded, node, name)
    return count


def _lzc_tree(bits, node, name):
    """``(all_zero, count)`` of ``bits`` (a power-of-two width), count in log2(width) bits."""
    if len(bits) == 2:
        return node(~(bits[0] | bits[1]), f"{name}_z"), node(~bits[1], f"{name}_c")
    half = len(bits) // 2
    low_zero, low_count = _lzc_tree(bits[:half], node, f"{name}_l")
    high_zero, high_count = _lzc_tree(bits[half:], node, f"{name}_h")
    return (node(high_zero & low_zero, f"{name}_z"),
            node(Cat(Mux(high_zero, low_count, high_count), high_zero), f"{name}_c"))


class Pipeline:
    """Places the registers of a unit's datapath at a configurable set of cuts.

    A unit is written as a chain of combinational steps separated by named *cuts*; the
    last cut is the unit's output and is always registered. :meth:`cut` turns the values
    crossing a cut into named signals, registered (advancing only while ``en`` is high)
    when the cut is in ``registered``, plain wires otherwise.
    """

    def __init__(self, m, en, registered):
        self._m = m
        self._en = en
        self._registered = set(registered)

    def cut(self, name, **values):
        """Return a namespace of signals carrying ``values`` across cut ``name``."""
        crossing = SimpleNamespace()
        for key, value in values.items():
            signal = Signal.like(value, name=f"{name}_{key}")
            if name in self._registered:
                with self._m.If(self._en):
                    self._m.d.sync += signal.eq(value)
            else:
                self._m.d.comb += signal.eq(value)
            setattr(crossing, key, signal)
        return crossing


def check_latency(unit, latency, cuts):
    """Validate ``latency`` against the cut table ``cuts`` (latency -> registered cuts)."""
    if not isinstance(latency, int) or isinstance(latency, bool) or latency not in cuts:
        raise ValueError(f"{unit}: latency must be one of {sorted(cuts)}, got {latency!r}")
    return cuts[latency]
