"""cocotb testbench of the IEEE 754 units (``rtl.arith.fp_*``) against ``golden.fp``.

The DUT is ``sim_cocotb.test_fp.FpUnitsHarness``: ``lanes`` parallel copies of each unit
(multiplier ``mul_*``, adder ``add_*``, converter ``cvt_*``) sharing one clock enable, so
one simulated cycle checks ``lanes`` vectors of every unit. Each cycle the testbench
drives one group of vectors per unit and samples every output; the expected output of a
cycle is the golden result of the group driven ``latency`` *enabled* cycles earlier, so a
pipeline that advances while ``en`` is low, or lets its inputs through, is caught. While
``en`` is low the inputs carry random junk.

Parameters (:func:`sim_cocotb.runner.tb_params`): ``lanes``, ``latency`` (unit -> cycles),
``vectors`` (random vectors per unit), ``stall_vectors`` (random vectors per unit in the
stall test).
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from golden import fp
from golden.fp_vectors import UNITS
from sim_cocotb.runner import tb_params

# unit -> (input ports, input width, output port, output width, golden model)
PORTS = {
    "mul": (("mul_a", "mul_b"), 16, "mul_product", 32, fp.fp16_mul_fp32),
    "add": (("add_a", "add_b"), 32, "add_sum", 32, fp.fp32_add),
    "convert": (("cvt_a",), 32, "cvt_result", 16, fp.fp32_to_fp16),
}


def _pack_groups(values, width, lanes):
    """One bus word per group of ``lanes`` values (lane 0 in the least significant bits)."""
    dtype = "<u2" if width == 16 else "<u4"
    groups = np.asarray(values).astype(dtype).reshape(-1, lanes)
    return [int.from_bytes(group.tobytes(), "little") for group in groups]


def _unpack_group(word, width, lanes):
    dtype = "<u2" if width == 16 else "<u4"
    return np.frombuffer(word.to_bytes(lanes * width // 8, "little"), dtype=dtype).astype(
        np.uint64)


class UnitStream:
    """Drives one unit's lanes with a vector set and records what comes out, cycle by cycle."""

    def __init__(self, dut, unit, operands, *, lanes, latency, rng):
        in_ports, self.in_width, out_port, self.out_width, golden = PORTS[unit]
        self.unit, self.lanes, self.latency, self.rng = unit, lanes, latency, rng
        count = len(operands[0])
        padding = -count % lanes
        self.operands = [np.concatenate([op, np.zeros(padding, dtype=np.uint64)])
                         for op in operands]
        self.count = count
        self.expected = golden(*self.operands).reshape(-1, lanes)
        self.inputs = [getattr(dut, port) for port in in_ports]
        self.output = getattr(dut, out_port)
        self.words = [_pack_groups(op, self.in_width, lanes) for op in self.operands]
        self.groups = len(self.words[0])
        self.next_group = 0
        self.history = []         # group index (-1: filler) entering at each enabled edge
        self.pending = None
        self.samples = []         # (group index, output word)

    def drive(self, enabled):
        """Put the next group (enabled) or random junk (stalled) on the inputs."""
        if enabled:
            group = self.next_group if self.next_group < self.groups else -1
            self.next_group += group >= 0
            for port, words in zip(self.inputs, self.words):
                port.value = words[group] if group >= 0 else 0
            self.pending = group
        else:
            for port in self.inputs:
                port.value = int.from_bytes(self.rng.bytes(self.lanes * self.in_width // 8),
                                            "little")
            self.pending = None

    def sample(self):
        """Record the output (in the read-only phase, before the clock edge)."""
        if len(self.history) >= self.latency and self.history[-self.latency] >= 0:
            self.samples.append((self.history[-self.latency], self.output.value.to_unsigned()))
        if self.pending is not None:
            self.history.append(self.pending)

    @property
    def done(self):
        return (self.next_group == self.groups
                and len(self.history) >= self.groups + self.latency)

    def check(self, log):
        """Compare every sample with the golden model; return the number of vectors seen."""
        seen = set()
        wrong = set()             # indices of vectors with at least one wrong sample
        failures = []
        for group, word in self.samples:
            got = _unpack_group(word, self.out_width, self.lanes)
            bad = np.flatnonzero(got != self.expected[group])
            for lane in bad:
                index = group * self.lanes + int(lane)
                wrong.add(index)
                if len(failures) < 20:
                    ops = " ".join(f"{int(op[index]):#x}" for op in self.operands)
                    failures.append(f"{self.unit} vector {index}: {ops} -> rtl "
                                    f"{int(got[lane]):#x}, golden "
                                    f"{int(self.expected[group][lane]):#x}")
            seen.add(group)
        assert not failures, (f"{self.unit}: {len(wrong)} of {self.count} vectors mismatch\n"
                              + "\n".join(failures))
        assert seen == set(range(self.groups)), \
            f"{self.unit}: outputs of {self.groups - len(seen)} groups never seen"
        log.info("%s: %d vectors, %d samples, 0 mismatches", self.unit, self.count,
                 len(self.samples))
        return self.count


class FpTB:
    def __init__(self, dut, test_id):
        self.dut = dut
        self.params, self.seed = tb_params()
        self.lanes = self.params["lanes"]
        self.rng = np.random.default_rng([self.seed, 100 + test_id])
        dut._log.info("seed %d, test id %d, lanes %d, latency %s", self.seed, test_id,
                      self.lanes, self.params["latency"])
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self):
        self.dut.rst.value = 1
        self.dut.en.value = 0
        await ClockCycles(self.dut.clk, 2)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def stream(self, unit, operands):
        return UnitStream(self.dut, unit, operands, lanes=self.lanes,
                          latency=self.params["latency"][unit], rng=self.rng)

    async def run(self, streams, *, stall=0.0):
        """Clock all streams together until each has delivered every group."""
        limit = 10 * max(s.groups for s in streams) + 100
        for _ in range(limit):
            enabled = not (stall and self.rng.random() < stall)
            self.dut.en.value = int(enabled)
            for s in streams:
                s.drive(enabled)
            await ReadOnly()
            for s in streams:
                s.sample()
            await RisingEdge(self.dut.clk)
            if all(s.done for s in streams):
                break
        else:
            raise AssertionError("timeout")
        return {s.unit: s.check(self.dut._log) for s in streams}


def random_vectors(unit, seed, count):
    """The same random vectors as ``tests/test_fp_golden.py`` (seed, unit index)."""
    return UNITS[unit][1](np.random.default_rng([seed, list(UNITS).index(unit)]), count)


@cocotb.test()
async def edge_cases(dut):
    """The edge-case tables of every unit, one group per cycle."""
    tb = FpTB(dut, 1)
    await tb.reset()
    await tb.run([tb.stream(unit, edge()) for unit, (edge, _) in UNITS.items()])


@cocotb.test()
async def random_vectors_full_rate(dut):
    """``vectors`` seeded random vectors per unit, en high on every cycle."""
    tb = FpTB(dut, 2)
    await tb.reset()
    count = tb.params["vectors"]
    await tb.run([tb.stream(unit, random_vectors(unit, tb.seed, count)) for unit in UNITS])


@cocotb.test()
async def stalls_hold_the_pipeline(dut):
    """en low on 40 % of the cycles with junk on the inputs: results are unaffected."""
    tb = FpTB(dut, 3)
    await tb.reset()
    count = tb.params["stall_vectors"]
    streams = []
    for unit, (edge, random) in UNITS.items():
        operands = random(np.random.default_rng([tb.seed, 200 + len(streams)]), count)
        edges = edge()
        pick = tb.rng.choice(len(edges[0]), min(len(edges[0]), 2000), replace=False)
        streams.append(tb.stream(unit, [np.concatenate([e[pick], o])
                                        for e, o in zip(edges, operands)]))
    await tb.run(streams, stall=0.4)
