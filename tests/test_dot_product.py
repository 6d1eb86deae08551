"""The dot-product unit, full width and folded, against the golden tree (Amaranth simulator).

A folded unit (``width < length``) reduces one chunk per cycle and combines the chunk sums in
an aligned tree: its result must equal the full tree's bit for bit, for every width. Two
mutants of the folding (chunks reduced in the wrong order, the last chunk lost) must fail the
same check.
"""

import numpy as np
import pytest
from amaranth.hdl import Mux, Signal
from amaranth.sim import Simulator

from golden.arith import Fp16Arith, Int8Arith
from golden.sic import dot_products
from rtl.arith import Fp16Format, Int8Format
from rtl.arith.dot_product import DotProduct, fold_widths

pytestmark = pytest.mark.sic

LENGTH = 8


class RotatedChunks(DotProduct):
    """Mutant: chunk ``c`` reduces the elements of chunk ``c + 1`` (mod ``chunks``), so the
    partial sums are paired in the wrong order (a mirrored order would pair the same sums)."""

    def _chunk_operands(self, m):
        a, b = super()._chunk_operands(m)
        for i in range(self.width):
            for vector, name in ((a, "a"), (b, "b")):
                source = getattr(self, name).as_value()
                index = ((self.chunk + 1) % self.chunks) * self.width + i
                m.d.comb += vector[i].eq(source.word_select(index, self.fmt.operand_width))
        return a, b


class LostLastChunk(DotProduct):
    """Mutant: the last chunk's products are dropped (its operands read as zero)."""

    def _chunk_operands(self, m):
        a, b = super()._chunk_operands(m)
        last = self.chunk == self.chunks - 1
        zeroed = [Signal.like(x, name=f"{x.name}_lost") for x in a]
        for x, z in zip(a, zeroed):
            m.d.comb += z.eq(Mux(last, 0, x))
        return zeroed, b


def run(fmt, width, pairs, gaps, unit=DotProduct):
    """Results of ``unit(fmt, length=LENGTH, width=width)`` for ``pairs`` of vectors,
    presented back to back with ``gaps[i]`` idle cycles before pair ``i``; each result is
    read ``latency`` cycles after its last chunk."""
    dut = unit(fmt, length=LENGTH, width=width)
    folded = dut.chunks > 1
    due, results = [], []

    async def drive(ctx):
        ctx.set(dut.en, 1)
        cycle = 0
        for (a, b), gap in zip(pairs, gaps):
            for _ in range(gap):
                if folded:
                    ctx.set(dut.valid, 0)
                    ctx.set(dut.chunk, 0)
                await ctx.tick()
                cycle += 1
            ctx.set(dut.a, [int(x) for x in a])
            ctx.set(dut.b, [int(x) for x in b])
            for chunk in range(dut.chunks):
                if folded:
                    ctx.set(dut.valid, 1)
                    ctx.set(dut.chunk, chunk)
                await ctx.tick()
                cycle += 1
            due.append(cycle + dut.latency - 1)
        if folded:
            ctx.set(dut.valid, 0)
        for _ in range(dut.latency + 2):
            await ctx.tick()

    async def monitor(ctx):
        cycle = 0
        while True:
            await ctx.tick()
            cycle += 1
            if cycle in due:
                results.append(ctx.get(dut.result))

    simulator = Simulator(dut)
    simulator.add_clock(1e-6)
    simulator.add_testbench(drive)
    simulator.add_testbench(monitor, background=True)
    simulator.run()
    return results


@pytest.mark.parametrize("fmt, arith", [(Int8Format(), Int8Arith), (Fp16Format(), Fp16Arith)],
                         ids=["int8", "fp16"])
@pytest.mark.parametrize("width", fold_widths(LENGTH))
def test_folded_result_equals_the_full_tree(fmt, arith, width):
    expected, got = check(fmt, arith, width)
    assert got == expected


@pytest.mark.parametrize("mutant, fmt, arith, width", [
    (RotatedChunks, Fp16Format, Fp16Arith, 1),
    (RotatedChunks, Fp16Format, Fp16Arith, 2),
    (LostLastChunk, Int8Format, Int8Arith, 1),
    (LostLastChunk, Fp16Format, Fp16Arith, 4),
], ids=["rotated-fp16-w1", "rotated-fp16-w2", "lost-int8-w1", "lost-fp16-w4"])
def test_folding_mutants_are_caught(mutant, fmt, arith, width):
    """Integer sums do not depend on the order, and two chunk sums have only one, so the order
    mutant is an fp16 check with at least four chunks."""
    expected, got = check(fmt(), arith, width, unit=mutant)
    assert got != expected


def check(fmt, arith, width, unit=DotProduct):
    """(golden, unit) dot products of 6 seeded random vector pairs, some back to back."""
    rng = np.random.default_rng(width)
    pairs = [(arith.random_operands(rng, (LENGTH,)), arith.random_operands(rng, (LENGTH,)))
             for _ in range(6)]
    expected = [int(dot_products(arith, a, b)) for a, b in pairs]
    got = run(fmt, width, pairs, gaps=[0, 0, 3, 0, 1, 0], unit=unit)
    if arith is Int8Arith:
        got = [((g + (1 << 31)) % (1 << 32)) - (1 << 31) for g in got]
    return expected, got


def test_widths_are_powers_of_two_dividing_a_power_of_two_length():
    assert fold_widths(32) == (1, 2, 4, 8, 16, 32)
    assert fold_widths(24) == (24,)
    with pytest.raises(ValueError, match="width must be one of 1, 2, 4, 8 for length 8, got 3"):
        DotProduct(Int8Format(), length=8, width=3)
    assert DotProduct.latency_of(Fp16Format(), 32, 8) == 2 + 3 * 2 + 2 * 2
