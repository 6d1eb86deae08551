"""The IEEE 754 golden models (``golden.fp``) against two independent oracles.

Oracle 1 is NumPy's hardware float arithmetic (float16 -> float32 widening, float32
multiply and add, float32 -> float16 ``astype``); oracle 2 is Berkeley SoftFloat 3e through
``softfloatpy`` (round to nearest even, the default). Both see the edge-case tables and the
seeded random vectors of ``golden.fp_vectors`` (``FOCUS_FP_VECTORS`` random vectors per unit,
100,000 by default). An oracle NaN of any sign or payload must be the models' canonical
NaN; every other result must match bit for bit.
"""

import numpy as np
import pytest
import softfloatpy as sf

from golden import fp
from golden.arith import Fp16Arith
from golden.fp_vectors import FP16_CLASSES, UNITS, vector_count
from golden.systolic_array import fold
from sim_cocotb.formats import golden_format

pytestmark = pytest.mark.golden


# --- oracles ------------------------------------------------------------------------------

def _f16(bits):
    return np.asarray(bits).astype(np.uint16).view(np.float16)


def _f32(bits):
    return np.asarray(bits).astype(np.uint32).view(np.float32)


def _numpy_canonical(values, nan):
    bits = values.view(np.uint16 if values.dtype == np.float16 else np.uint32)
    return np.where(np.isnan(values), nan, bits.astype(np.uint64))


def numpy_oracle(unit, *operands):
    with np.errstate(all="ignore"):
        if unit == "mul":
            a, b = operands
            return _numpy_canonical(_f16(a).astype(np.float32) * _f16(b).astype(np.float32),
                                    fp.FP32_NAN)
        if unit == "add":
            a, b = operands
            return _numpy_canonical(_f32(a) + _f32(b), fp.FP32_NAN)
        (a,) = operands
        return _numpy_canonical(_f32(a).astype(np.float16), fp.FP16_NAN)


def _sf32(bits):
    return sf.Float32.from_bytes(int(bits).to_bytes(4, "big"))


def _sf16(bits):
    return sf.Float16.from_bytes(int(bits).to_bytes(2, "big"))


def _bits(value):
    return int.from_bytes(value.to_bytes(), "big")


def softfloat_oracle(unit, *operands):
    assert sf.get_rounding_mode() == sf.RoundingMode.NEAR_EVEN
    if unit == "mul":
        # Widening is exact and the binary32 product of two widened binary16 numbers never
        # rounds, so f32_mul gives the exact product.
        results = [sf.f32_mul(sf.f16_to_f32(_sf16(a)), sf.f16_to_f32(_sf16(b)))
                   for a, b in zip(*operands)]
        nan, is_nan = fp.FP32_NAN, sf.f32_is_nan
    elif unit == "add":
        results = [sf.f32_add(_sf32(a), _sf32(b)) for a, b in zip(*operands)]
        nan, is_nan = fp.FP32_NAN, sf.f32_is_nan
    else:
        results = [sf.f32_to_f16(_sf32(a)) for a in operands[0]]
        nan, is_nan = fp.FP16_NAN, sf.f16_is_nan
    return np.array([nan if is_nan(r) else _bits(r) for r in results], dtype=np.uint64)


GOLDEN = {"mul": fp.fp16_mul_fp32, "add": fp.fp32_add, "convert": fp.fp32_to_fp16}


def assert_same(unit, operands, got, want, oracle):
    bad = np.flatnonzero(got != want)
    if bad.size:
        rows = [" ".join(f"{int(op[i]):#x}" for op in operands)
                + f" -> golden {int(got[i]):#x}, {oracle} {int(want[i]):#x}" for i in bad[:10]]
        pytest.fail(f"{unit}: {bad.size} of {got.size} mismatches against {oracle}:\n"
                    + "\n".join(rows))


def vectors(unit, kind, seed):
    edge, random = UNITS[unit]
    if kind == "edge":
        return edge()
    return random(np.random.default_rng([seed, list(UNITS).index(unit)]), vector_count())


# --- golden vs oracles --------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["edge", "random"])
@pytest.mark.parametrize("unit", list(UNITS))
def test_golden_against_numpy(unit, kind, seed):
    operands = vectors(unit, kind, seed)
    assert_same(unit, operands, GOLDEN[unit](*operands), numpy_oracle(unit, *operands),
                "numpy")


@pytest.mark.parametrize("kind", ["edge", "random"])
@pytest.mark.parametrize("unit", list(UNITS))
def test_golden_against_softfloat(unit, kind, seed):
    operands = vectors(unit, kind, seed)
    assert_same(unit, operands, GOLDEN[unit](*operands), softfloat_oracle(unit, *operands),
                "softfloat")


def test_exhaustive_widening():
    """All 65,536 binary16 patterns widen exactly (NumPy and SoftFloat agree)."""
    halves = np.arange(1 << 16, dtype=np.uint64)
    got = fp.fp16_to_fp32(halves)
    assert_same("widen", (halves,), got,
                _numpy_canonical(_f16(halves).astype(np.float32), fp.FP32_NAN), "numpy")
    soft = np.array([fp.FP32_NAN if sf.f16_is_nan(_sf16(h))
                     else _bits(sf.f16_to_f32(_sf16(h))) for h in halves], dtype=np.uint64)
    assert_same("widen", (halves,), got, soft, "softfloat")


def test_edge_tables_cover_every_class():
    """The tables hold each class pair, both zero signs, ties and overflow."""
    a, b = UNITS["mul"][0]()
    results = fp.fp16_mul_fp32(a, b)
    assert {0, 0x80000000, fp.FP32_NAN, fp.FP32_INF, fp.FP32_INF | 1 << 31} <= set(
        results.tolist())
    signed_classes = len(FP16_CLASSES) * 2
    assert len(set(zip(a.tolist(), b.tolist()))) >= signed_classes ** 2
    x, y = UNITS["add"][0]()
    sums = fp.fp32_add(x, y)
    assert {0, 0x80000000, fp.FP32_NAN, fp.FP32_INF, fp.FP32_INF | 1 << 31, 0x00800000,
            0x007FFFFF, 0x00000001} <= set(sums.tolist())
    (c,) = UNITS["convert"][0]()
    halves = fp.fp32_to_fp16(c)
    assert {0, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, fp.FP16_INF, fp.FP16_NAN} <= set(
        halves.tolist())


def test_known_values():
    """Hand-checked results, including the published design's wrong cases."""
    assert fp.fp16_mul_fp32(0x3E00, 0x3C00) == 0x3FC00000           # 1.5 x 1 = 1.5
    assert fp.fp16_mul_fp32(0x0001, 0x0001) == 0x27800000           # 2**-48
    assert fp.fp32_add(0x40000000, 0x40000000) == 0x40800000         # 2 + 2 = 4
    assert fp.fp32_add(0x3F800000, 0x33800000) == 0x3F800000         # tie to even
    assert fp.fp32_add(0x3F800001, 0x33800000) == 0x3F800002         # tie to even (up)
    assert fp.fp32_add(0x7F7FFFFF, 0x73000000) == fp.FP32_INF        # overflow tie
    assert fp.fp32_add(0x80000000, 0x80000000) == 0x80000000         # -0 + -0
    assert fp.fp32_add(0x3F800000, 0xBF800000) == 0                  # x - x = +0
    assert fp.fp32_to_fp16(0x477FF000) == fp.FP16_INF                # 65520 -> inf
    assert fp.fp32_to_fp16(0x477FEFFF) == 0x7BFF
    assert fp.fp32_to_fp16(0x33000000) == 0                          # 2**-25 -> 0 (even)
    assert fp.fp32_to_fp16(0x33C00000) == 0x0002                     # 3*2**-25 -> 2**-23


# --- the fp16 arithmetic of the array golden model ----------------------------------------

def test_fp16_arith_registered():
    assert golden_format("fp16") is Fp16Arith
    assert (Fp16Arith.operand_width, Fp16Arith.accumulator_width, Fp16Arith.signed) == (
        16, 32, False)


def test_fp16_random_operands(seed):
    """Finite data with subnormals, zeros, exact negatives and wide exponent ranges."""
    rng = np.random.default_rng(seed)
    ops = Fp16Arith.random_operands(rng, (64, 32))
    values = _f16(ops)
    assert np.all(np.isfinite(values))
    assert np.count_nonzero((ops & 0x7C00) == 0) > 64                  # subnormals / zeros
    assert np.count_nonzero(ops[:, 1::2] == ops[:, 0::2] ^ 0x8000) > 64  # negated pairs
    assert np.count_nonzero(np.all(ops[1::2] == ops[0::2], axis=1)) > 4  # repeated rows


def test_fp16_fold_matches_sequential_float32(seed):
    """The array golden model in fp16 = NumPy float32 accumulation in row order, and the
    random data really produces exact cancellations and tiny partial sums."""
    rng = np.random.default_rng(seed)
    rows, cols = 16, 8
    zeros = tiny = total = 0
    for _ in range(20):
        weights = Fp16Arith.random_operands(rng, (rows, cols))
        acts = Fp16Arith.random_operands(rng, (40, rows))
        got = fold(Fp16Arith, weights, acts)
        want = np.zeros((acts.shape[0], cols), dtype=np.float32)
        for k in range(rows):
            product = (_f16(acts[:, k, None]).astype(np.float32)
                       * _f16(weights[None, k, :]).astype(np.float32))
            want = want + product
            magnitude = np.abs(want)
            zeros += np.count_nonzero((magnitude == 0) & (np.abs(product) > 0))
            tiny += np.count_nonzero((magnitude > 0) & (magnitude < 2.0 ** -14))
            total += want.size
        assert np.array_equal(got, want.view(np.uint32).astype(np.uint64))
    assert zeros > 0.002 * total, "no exact cancellations in the partial sums"
    assert tiny > 0.005 * total, "no partial sums below the binary16 normal range"


def test_fp16_random_accumulators(seed):
    """Finite binary32 partial sums of the requested shape, zeros among them."""
    sums = Fp16Arith.random_accumulators(np.random.default_rng(seed), (50, 8))
    assert sums.shape == (50, 8) and sums.dtype == np.uint64
    assert np.all(np.isfinite(_f32(sums)))
    assert len(np.unique(sums)) > 300
