"""The golden number formats (``golden.arith``) agree with the hardware formats (``rtl.arith``)
on every fact both sides state, for every dtype the generator knows: a new format must be
added to both registries, consistently."""

import numpy as np
import pytest
from amaranth.hdl import Shape

from gen.formats import FORMATS, number_format
from sim_cocotb.formats import GOLDEN_FORMATS, golden_format

pytestmark = pytest.mark.golden


def test_every_generator_dtype_has_a_golden_format():
    assert set(GOLDEN_FORMATS) == set(FORMATS)
    with pytest.raises(ValueError, match="dtype must be one of fp16, int8, got 'bf16'"):
        golden_format("bf16")


@pytest.mark.parametrize("dtype", sorted(FORMATS))
def test_golden_and_rtl_formats_agree(dtype):
    golden, rtl = golden_format(dtype), number_format(dtype)
    assert golden.name == rtl.name == dtype
    operand, accumulator, output = (Shape.cast(rtl.operand_shape),
                                    Shape.cast(rtl.accumulator_shape),
                                    Shape.cast(rtl.output_shape))
    assert (golden.operand_width, golden.accumulator_width, golden.output_width) == (
        operand.width, accumulator.width, output.width)
    assert golden.signed == operand.signed == accumulator.signed == output.signed
    assert golden.accumulator_zero == rtl.accumulator_zero
    assert golden.importance_width == rtl.importance_width
    assert list(golden.scale_ports) == list(rtl.scale_ports)
    sic = rtl.sic_numbers(vector_size=4, m_tile=32)
    assert golden.sic.fixed_limit() == sic.fixed_limit


@pytest.mark.parametrize("dtype", sorted(FORMATS))
def test_golden_output_scales_fit_the_rtl_scale_ports(dtype, seed):
    """The scales the testbenches drive are exactly the format's ports, and fit them."""
    golden, rtl = golden_format(dtype), number_format(dtype)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        accumulators = golden.random_accumulators(rng, (16, 4))
        for scale in (golden.random_output_scale(rng, accumulators),
                      golden.fitting_output_scale(accumulators)):
            assert list(scale) == list(rtl.scale_ports)
            for name, value in scale.items():
                shape = Shape.cast(rtl.scale_ports[name])
                assert 0 <= value < 1 << shape.width and not shape.signed, (name, value)
            golden.convert_output(accumulators, **scale)


@pytest.mark.parametrize("dtype", sorted(FORMATS))
def test_operand_and_importance_round_trips(dtype, seed):
    """Operand and importance encodings of a format invert their value maps, and the test
    values a format names are in its own format."""
    golden = golden_format(dtype)
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((50, 8))
    operands = golden.to_operands(values)
    np.testing.assert_array_equal(golden.to_operands(golden.operand_values(operands),
                                                     scale=1.0), operands)
    raw = golden.random_importance(rng, (50,))
    np.testing.assert_array_equal(golden.importance_codes(golden.importance_values(raw)), raw)
    keys, invalid = golden.sanitize_importance(raw)
    assert not invalid.any() and np.all(keys < 1 << golden.importance_width)
    assert golden.sanitize_importance(np.array(golden.importance_ties))[0].max() \
        < 1 << golden.importance_width
    for name, bits in golden.invalid_importance:
        key, invalid = golden.sanitize_importance([bits])
        assert invalid[0] and key[0] == 0, name
    width = golden.operand_width
    low, high = (-(1 << (width - 1)), 1 << (width - 1)) if golden.signed else (0, 1 << width)
    for pattern in (golden.extreme_operand, golden.negative_zero, *golden.special_operands):
        assert low <= pattern < high, hex(pattern)
    assert np.all((low <= operands) & (operands < high))
    assert not golden.sic.special(golden.extreme_operands(rng, (200, 1))).any()
    assert golden.sic.special(np.array(golden.special_operands).reshape(-1, 1)).all()
