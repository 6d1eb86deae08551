"""cocotb drivers and sinks for ``amaranth.lib.stream`` ports, and payload packing helpers.

Amaranth names the members of a stream port ``<name>__valid``, ``<name>__ready`` and
``<name>__payload``; payloads are flat bit vectors whose layout (element 0 in the least
significant bits, struct fields in declaration order) the helpers below mirror.
"""

import atexit
import collections
import json
import os
import random

from cocotb.triggers import ReadOnly, RisingEdge

#: Beats transferred on every stream port this simulation (``{port: beats}``), written as
#: JSON to ``FOCUS_TB_TRANSFERS`` when the simulator exits (the verify report's vectors).
TRANSFERS = collections.Counter()


def _write_transfers():
    path = os.environ.get("FOCUS_TB_TRANSFERS")
    if path:
        with open(path, "w") as out:
            json.dump(dict(TRANSFERS), out)


atexit.register(_write_transfers)


def pack(values, width):
    """Pack integers (any sign) into one bus value, element 0 least significant."""
    mask = (1 << width) - 1
    word = 0
    for i, value in enumerate(values):
        word |= (int(value) & mask) << (i * width)
    return word


def unpack(word, width, count, *, signed=False):
    """Split a bus value into ``count`` elements of ``width`` bits."""
    mask = (1 << width) - 1
    values = [(word >> (i * width)) & mask for i in range(count)]
    if signed:
        values = [v - (1 << width) if v >> (width - 1) else v for v in values]
    return values


def pack_tile_vector(values, width, *, first, last):
    """Payload of ``rtl.layouts.tile_vector``: data, then ``first``, then ``last``."""
    n = len(values)
    return pack(values, width) | (int(first) << (n * width)) | (int(last) << (n * width + 1))


def unpack_tile_vector(word, width, count, *, signed=False):
    """Inverse of :func:`pack_tile_vector`: ``(values, first, last)``."""
    values = unpack(word, width, count, signed=signed)
    return values, (word >> (count * width)) & 1, (word >> (count * width + 1)) & 1


def first_difference(got, want):
    """Index of the first element where the sequences differ (the shorter length when one
    is a prefix of the other)."""
    return next((i for i, (g, w) in enumerate(zip(got, want)) if g != w),
                min(len(got), len(want)))


class StreamSource:
    """Drives a stream input of the DUT, inserting random idle cycles.

    ``idle`` is the probability of withholding ``valid`` before each beat.
    """

    def __init__(self, dut, name, clock, *, idle=0.0, rng=None):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.name = name
        self.clock = clock
        self.idle = idle
        self.rng = rng or random.Random(0)
        self.valid.value = 0

    async def send(self, beats):
        """Send every payload in ``beats``; returns when the last one was accepted."""
        for beat in beats:
            while self.idle and self.rng.random() < self.idle:
                self.valid.value = 0
                await RisingEdge(self.clock)
            self.valid.value = 1
            self.payload.value = beat
            while True:
                await ReadOnly()
                accepted = int(self.ready.value)
                await RisingEdge(self.clock)
                if accepted:
                    TRANSFERS[self.name] += 1
                    break
        self.valid.value = 0


class StreamSink:
    """Consumes a stream output of the DUT with random back-pressure and records the beats.

    ``stall`` is the probability of deasserting ``ready`` in a cycle. Each received beat is
    stored in :attr:`beats` together with the cycle it was accepted in (:attr:`cycles`).
    """

    def __init__(self, dut, name, clock, *, stall=0.0, rng=None):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.name = name
        self.clock = clock
        self.stall = stall
        self.rng = rng or random.Random(1)
        self.beats = []
        self.cycles = []
        self.ready.value = 0

    async def run(self, cycle_counter=None):
        """Run forever (start with ``cocotb.start_soon``)."""
        cycle = 0
        while True:
            ready = not (self.stall and self.rng.random() < self.stall)
            self.ready.value = int(ready)
            await ReadOnly()
            if ready and int(self.valid.value):
                self.beats.append(int(self.payload.value))   # LogicArray or 1-bit Logic
                self.cycles.append(cycle)
                TRANSFERS[self.name] += 1
            await RisingEdge(self.clock)
            cycle += 1

    async def wait_for(self, count, *, timeout_cycles):
        """Wait until ``count`` beats have arrived; fail after ``timeout_cycles``."""
        for _ in range(timeout_cycles):
            if len(self.beats) >= count:
                return
            await RisingEdge(self.clock)
        raise AssertionError(f"{self.name}: timeout: {len(self.beats)} of {count} beats after "
                             f"{timeout_cycles} cycles")


def start_clock(dut, period_ns=10):
    """Start the DUT's ``clk`` (Amaranth's default clock port)."""
    from cocotb import start_soon
    from cocotb.clock import Clock
    start_soon(Clock(dut.clk, period_ns, unit="ns").start())


async def reset(dut, inputs=(), cycles=2):
    """Hold ``rst`` for ``cycles`` with every input stream in ``inputs`` idle, then release."""
    from cocotb.triggers import ClockCycles
    dut.rst.value = 1
    for name in inputs:
        getattr(dut, f"{name}__valid").value = 0
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def child_rngs(rng, count):
    """``count`` independent ``random.Random`` generators drawn from a NumPy generator."""
    return [random.Random(int(seed)) for seed in rng.integers(1 << 32, size=count)]
