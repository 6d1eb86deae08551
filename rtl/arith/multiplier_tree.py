"""Fast integer products: a Dadda tree of carry-save adders and one final carry-propagate add.

``a * b`` written as an Amaranth ``*`` becomes a chain of adders in Yosys (one per partial
product row); this builds the partial-product bits, reduces every column to two bits with
full and half adders (Dadda's schedule: the fewest adders for ``O(log n)`` levels), and adds
the two remaining rows with one ``+`` that the synthesis flow maps to a parallel-prefix adder.
The value is exactly ``a * b``; only the structure differs.
"""

from amaranth.hdl import Cat, Const, Signal, unsigned

__all__ = ["unsigned_product", "dadda_heights"]


def dadda_heights(height):
    """Column heights Dadda's reduction steps to, ending with 2: ``[..., 6, 4, 3, 2]``."""
    heights = [2]
    while int(heights[-1] * 1.5) < height:
        heights.append(int(heights[-1] * 1.5))
    return heights[::-1]


def unsigned_product(m, a, b, name):
    """``a * b`` of unsigned values ``a`` and ``b`` (Amaranth values), ``len(a) + len(b)`` bits.

    Every partial-product and adder bit is a named signal of ``m`` (``<name>_...``), so the
    Verilog stays linear in the number of adders.
    """
    width = len(a) + len(b)
    if len(a) == 0 or len(b) == 0:
        return Const(0, unsigned(max(width, 1)))
    count = 0

    def bit(value):
        nonlocal count
        signal = Signal(name=f"{name}_{count}")
        count += 1
        m.d.comb += signal.eq(value)
        return signal

    columns = [[] for _ in range(width)]
    for i in range(len(a)):
        for j in range(len(b)):
            columns[i + j].append(bit(a[i] & b[j]))
    for target in dadda_heights(max(len(column) for column in columns)):
        carried = [[] for _ in range(width + 1)]
        for index, column in enumerate(columns):
            column = column + carried[index]
            while len(column) > target:
                if len(column) == target + 1:      # half adder: one bit fewer
                    x, y = column[:2]
                    column = column[2:] + [bit(x ^ y)]
                    carry = x & y
                else:                              # full adder: two bits fewer
                    x, y, z = column[:3]
                    column = column[3:] + [bit(x ^ y ^ z)]
                    carry = (x & y) | (z & (x ^ y))
                if index + 1 < width:              # a product never carries past its width
                    carried[index + 1].append(bit(carry))
            columns[index] = column
    rows = [Cat(*(column[k] if k < len(column) else Const(0, 1) for column in columns))
            for k in range(2)]
    return (rows[0] + rows[1])[:width]
