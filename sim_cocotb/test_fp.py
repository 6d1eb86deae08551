"""Regression of the IEEE 754 units: cocotb under Verilator, several pipeline depths.

``FOCUS_FP_VECTORS`` sets the random vectors per unit (default 100,000), e.g.
``FOCUS_FP_VECTORS=2000000 .venv/bin/python -m pytest sim_cocotb/test_fp.py``.
"""

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fp_vectors import vector_count
from gen.formats import number_format
from gen.generate import design
from rtl.arith import Fp16Format
from rtl.arith.fp_adder import Fp32Adder
from rtl.arith.fp_convert import Fp32ToFp16
from rtl.arith.fp_multiplier import Fp16Multiplier
from sim_cocotb.runner import run_testbench

pytestmark = pytest.mark.fp16

LANES = 8
STALL_VECTORS = 20_000

# Pipeline depths under test: the defaults, every unit at its deepest, every unit at 1.
PIPELINES = {
    "default": {"mul": 1, "add": 2, "convert": 1},
    "deepest": {"mul": 2, "add": 3, "convert": 2},
    "shallowest": {"mul": 1, "add": 1, "convert": 1},
}


class FpUnitsHarness(wiring.Component):
    """``lanes`` copies of each IEEE unit side by side, one shared clock enable.

    Ports: ``en``; ``mul_a``, ``mul_b`` (16 bits per lane) -> ``mul_product`` (32);
    ``add_a``, ``add_b`` (32) -> ``add_sum`` (32); ``cvt_a`` (32) -> ``cvt_result`` (16).
    Lane ``i`` occupies bits ``[i*w, (i+1)*w)`` of each bus.
    """

    def __init__(self, *, lanes, latency):
        self.lanes = lanes
        self.latency = dict(latency)
        super().__init__({
            "en": In(1),
            "mul_a": In(16 * lanes), "mul_b": In(16 * lanes), "mul_product": Out(32 * lanes),
            "add_a": In(32 * lanes), "add_b": In(32 * lanes), "add_sum": Out(32 * lanes),
            "cvt_a": In(32 * lanes), "cvt_result": Out(16 * lanes),
        })

    def elaborate(self, platform):
        m = Module()
        for i in range(self.lanes):
            mul = m.submodules[f"mul{i}"] = Fp16Multiplier(latency=self.latency["mul"])
            add = m.submodules[f"add{i}"] = Fp32Adder(latency=self.latency["add"])
            cvt = m.submodules[f"cvt{i}"] = Fp32ToFp16(latency=self.latency["convert"])
            m.d.comb += [
                mul.en.eq(self.en), add.en.eq(self.en), cvt.en.eq(self.en),
                mul.a.eq(self.mul_a.word_select(i, 16)),
                mul.b.eq(self.mul_b.word_select(i, 16)),
                self.mul_product.word_select(i, 32).eq(mul.product),
                add.a.eq(self.add_a.word_select(i, 32)),
                add.b.eq(self.add_b.word_select(i, 32)),
                self.add_sum.word_select(i, 32).eq(add.sum),
                cvt.a.eq(self.cvt_a.word_select(i, 32)),
                self.cvt_result.word_select(i, 16).eq(cvt.result),
            ]
        return m


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_fp_units(pipeline, seed, test_dir):
    latency = PIPELINES[pipeline]
    run_testbench(design(FpUnitsHarness, lanes=LANES, latency=latency), "sim_cocotb.tb_fp",
                  params={"lanes": LANES, "latency": latency, "vectors": vector_count(),
                          "stall_vectors": STALL_VECTORS},
                  seed=seed, test_dir=test_dir)


# --- elaboration-time checks (pure Python) ------------------------------------------------

@pytest.mark.parametrize("unit,good,bad", [
    (Fp16Multiplier, (1, 2), (0, 3, True, "2")),
    (Fp32Adder, (1, 2, 3), (0, 4, 2.0)),
    (Fp32ToFp16, (1, 2), (0, 3)),
])
def test_latency_parameter(unit, good, bad):
    for latency in good:
        assert unit(latency=latency).latency == latency
    for latency in bad:
        with pytest.raises(ValueError, match=f"{unit.__name__}: latency must be one of"):
            unit(latency=latency)


def test_default_latencies():
    assert (Fp16Multiplier().latency, Fp32Adder().latency, Fp32ToFp16().latency) == (1, 2, 1)
    fmt = number_format("fp16")
    assert isinstance(fmt, Fp16Format)
    assert (fmt.mul_latency, fmt.add_latency, fmt.operand_width, fmt.accumulator_width,
            fmt.accumulator_zero) == (2, 2, 16, 32, 0)
    assert repr(Fp16Format(mul_latency=2, add_latency=3)) == \
        "Fp16Format(mul_latency=2, add_latency=3)"
    with pytest.raises(ValueError, match="Fp32Adder: latency"):
        Fp16Format(add_latency=0)
