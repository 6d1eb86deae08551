"""Test vectors for the IEEE 754 units: edge-case tables and seeded random generators.

Shared by the pure-Python oracle tests (``tests/test_fp_golden.py``) and the RTL
testbench (``sim_cocotb/tb_fp.py``), so both check exactly the same cases. Every function
returns ``uint64`` arrays of raw bit patterns: ``(a, b)`` for the two-operand units,
``(a,)`` for the conversion.

Number of random vectors: :func:`vector_count` (100,000 per unit by default; the
``FOCUS_FP_VECTORS`` environment variable overrides it, e.g. ``FOCUS_FP_VECTORS=2000000``).
"""

import itertools
import os

import numpy as np

DEFAULT_VECTORS = 100_000


def vector_count():
    """Random vectors per unit: ``FOCUS_FP_VECTORS`` or :data:`DEFAULT_VECTORS`."""
    value = os.environ.get("FOCUS_FP_VECTORS", "")
    if not value:
        return DEFAULT_VECTORS
    count = int(value)
    if count < 1:
        raise ValueError(f"FOCUS_FP_VECTORS must be a positive integer, got {value!r}")
    return count


# One representative of every class, positive; the tables add the negatives.
FP16_CLASSES = {
    "zero": 0x0000,
    "min_subnormal": 0x0001,
    "mid_subnormal": 0x0155,
    "max_subnormal": 0x03FF,
    "min_normal": 0x0400,
    "one": 0x3C00,
    "one_and_half": 0x3E00,
    "two": 0x4000,
    "pi": 0x4248,
    "max_normal": 0x7BFF,
    "inf": 0x7C00,
    "quiet_nan": 0x7E00,
    "signaling_nan": 0x7C01,
    "nan_all_ones": 0x7FFF,
}

FP32_CLASSES = {
    "zero": 0x00000000,
    "min_subnormal": 0x00000001,
    "mid_subnormal": 0x00400001,
    "max_subnormal": 0x007FFFFF,
    "min_normal": 0x00800000,
    "min_normal_next": 0x00800001,
    "one": 0x3F800000,
    "one_next": 0x3F800001,
    "one_and_half": 0x3FC00000,
    "below_two": 0x3FFFFFFF,
    "two": 0x40000000,
    "pi": 0x40490FDB,
    "max_normal": 0x7F7FFFFF,
    "inf": 0x7F800000,
    "quiet_nan": 0x7FC00000,
    "signaling_nan": 0x7F800001,
    "nan_all_ones": 0x7FFFFFFF,
}


def _signed(values, width):
    values = list(values)
    return values + [v | (1 << (width - 1)) for v in values]


def _u64(values):
    return np.array(values, dtype=np.uint64)


def edge_mul():
    """Every ordered pair of signed binary16 class representatives, and named cases.

    Named cases: 1.5 x 1 and 2 x 2 (wrong in the published RTL), products of extreme
    subnormals (the smallest product, 2**-48) and normals (the largest, 65504**2),
    every operand times +-0 and +-inf.
    """
    values = _signed(FP16_CLASSES.values(), 16)
    pairs = list(itertools.product(values, repeat=2))
    pairs += [(0x3E00, 0x3C00), (0x4000, 0x4000), (0x0001, 0x0001), (0x7BFF, 0x7BFF),
              (0x0001, 0x7BFF), (0x03FF, 0x03FF), (0x3555, 0x3555), (0x0200, 0x6400)]
    a, b = zip(*pairs)
    return _u64(a), _u64(b)


def edge_add():
    """Every ordered pair of signed binary32 class representatives, and named cases.

    Named cases cover: ties to even (odd and even lower neighbour, with and without a
    sticky bit beyond the tie), overflow to infinity (including the tie just above the
    largest finite number), exact cancellation (``x + -x``, ``-0 + -0``), sums that round
    up across a binade, carries, subnormal + subnormal -> normal, normal - normal ->
    subnormal, massive cancellation, and far-apart exponents on both sides of the
    27-bit alignment window.
    """
    values = _signed(FP32_CLASSES.values(), 32)
    pairs = list(itertools.product(values, repeat=2))
    neg = 1 << 31
    one, max_normal = 0x3F800000, 0x7F7FFFFF
    pairs += [
        (0x40000000, 0x40000000),                  # 2 + 2 = 4 (wrong in the published RTL)
        (0x3FC00000, 0x3FC00000),                  # 1.5 + 1.5 = 3, carry
        (one, 0x33800000),                         # 1 + 2**-24: tie, lower even -> 1
        (0x3F800001, 0x33800000),                  # tie, lower odd -> up
        (one, 0x33800001),                         # just above the tie -> up
        (one, 0x337FFFFF),                         # just below the tie -> 1
        (one, 0x33000000 | neg),                   # 1 - 2**-25: tie below 1 -> 1
        (one, 0x33000001 | neg),                   # a little more -> 1 - 2**-24
        (one, 0x33400000 | neg),                   # 1 - 3*2**-26 -> 1 - 2**-24
        (0x3FFFFFFF, 0x33800000),                  # 2 - 2**-24: tie, rounds up to 2
        (0x3FFFFFFF, 0x34000000),                  # 2 - 2**-23 + 2**-23 = 2 exactly
        (0x4B7FFFFF, 0x3F000000),                  # 2**24 - 1 + 0.5 -> 2**24 (binade)
        (max_normal, max_normal),                  # overflow
        (max_normal | neg, max_normal | neg),      # negative overflow
        (max_normal, 0x73000000),                  # + half ulp: tie, odd -> inf
        (max_normal, 0x72FFFFFF),                  # just below the tie -> max
        (max_normal, 0x73000001),                  # just above the tie -> inf
        (0x7F000000, 0x7F000000),                  # 2**127 * 2 -> inf
        (0x007FFFFF, 0x00000001),                  # subnormals -> min normal
        (0x00400000, 0x00400000),                  # subnormal + subnormal -> min normal
        (0x00800000, 0x00000001 | neg),            # min normal - min sub -> max subnormal
        (0x00800001, 0x00800000 | neg),            # -> min subnormal
        (0x01000000, 0x00FFFFFF | neg),            # cancellation into the subnormal range
        (0x3F800001, one | neg),                   # massive cancellation -> 2**-23
        (0x4B000001, 0xCB000000),                  # 2**23 + 1 - 2**23 = 1
        (one, 0x00000001),                         # far apart: 1 + min subnormal -> 1
        (one, 0x00000001 | neg),                   # 1 - min subnormal -> 1
        (0x4C000000, 0x3F800001 | neg),            # d = 25: sticky decides
        (0x4D000000, 0x3F800000 | neg),            # d = 27
        (0x4D800000, 0x3F800000 | neg),            # d = 28 (beyond the window)
        (0x4C800000, 0x3F800000 | neg),            # d = 26: 2**26 - 1 -> 2**26
        (one, 0x40490FDB | neg),
    ]
    for x in (one, 0x3F800001, 0x40490FDB, 0x00000001, 0x00123456, 0x7F7FFFFF, 0x5A5A5A5A):
        pairs += [(x, x | neg), (x | neg, x), (x | neg, x | neg), (x, x)]
    pairs += [(0, neg), (neg, 0), (neg, neg), (0, 0)]
    a, b = zip(*pairs)
    return _u64(a), _u64(b)


def edge_convert():
    """Every signed binary32 class representative, every binary16 value widened, and the
    binary16 rounding boundaries.

    Boundaries: 65504 and the overflow tie 65520 (and its neighbours), 2**16; the smallest
    subnormal 2**-24, the underflow tie 2**-25 and its neighbours, ``3 * 2**-25`` (tie,
    rounds up to even 2**-23); the tie between the largest subnormal and the smallest
    normal; ties in the normal range with even and odd lower neighbours; ``2 - 2**-11``
    (tie rounding up across a binade); and every finite binary16 number and every
    midpoint between two neighbouring ones (every tie binary16 rounding can meet), both signs.
    """
    values = _signed(FP32_CLASSES.values(), 32)
    values += [
        0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,   # 65504 .. 2**16
        0x33800000, 0x33000000, 0x33000001, 0x32FFFFFF, 0x33C00000,   # near 2**-24, 2**-25
        0x387FC000, 0x387FE000, 0x387FDFFF, 0x38800000,               # max sub / min norm
        0x3F801000, 0x3F803000, 0x3F801001, 0x3F800FFF,               # ties at 1
        0x3FFFF000, 0x3FFFEFFF,                                       # 2 - 2**-11
        0x00000001, 0x007FFFFF, 0x2F800000, 0x33000000,               # deep underflow
    ]
    # Every finite binary16 number, widened exactly, and every midpoint between neighbours
    # (exact in binary32: 12 significant bits).
    halves = np.arange(0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    midpoints = (halves[:-1] + halves[1:]) / 2
    for grid in (halves, midpoints):
        values += list(grid.astype(np.float32).view(np.uint32).astype(np.uint64))
    everything = np.array(values, dtype=np.uint64)
    everything = np.concatenate([everything, everything | np.uint64(1 << 31)])
    return (np.unique(everything),)


# --- random vectors -----------------------------------------------------------------------

def _mix(rng, choices, n):
    """Concatenate ``n`` samples drawn from weighted generators ``(weight, fn(rng, k))``."""
    weights = np.array([w for w, _ in choices], dtype=float)
    counts = rng.multinomial(n, weights / weights.sum())
    parts = [fn(rng, int(k)) for (_, fn), k in zip(choices, counts)]
    out = np.concatenate(parts).astype(np.uint64)
    return out[rng.permutation(n)]


def _fp16_with_exponent(rng, k, low, high):
    return ((rng.integers(low, high + 1, k) << 10) | rng.integers(0, 1 << 10, k)
            | (rng.integers(0, 2, k) << 15))


def _fp16_operand(rng, n):
    return _mix(rng, [
        (50, lambda r, k: r.integers(0, 1 << 16, k)),                     # any pattern
        (15, lambda r, k: _fp16_with_exponent(r, k, 0, 0)),               # subnormal
        (10, lambda r, k: _fp16_with_exponent(r, k, 1, 2)),               # smallest normals
        (10, lambda r, k: _fp16_with_exponent(r, k, 29, 30)),             # largest normals
        (5, lambda r, k: _fp16_with_exponent(r, k, 15, 15)),              # [1, 2)
        (10, lambda r, k: r.choice(np.array(list(FP16_CLASSES.values())), k)
         | (r.integers(0, 2, k) << 15)),
    ], n)


def random_mul(rng, n):
    """``n`` random binary16 operand pairs covering every class and exponent range."""
    return _fp16_operand(rng, n), _fp16_operand(rng, n)


def _fp32_any(rng, k):
    return rng.integers(0, 1 << 32, k)


def _fp32_with_exponent(rng, k, low, high):
    return ((rng.integers(low, high + 1, k) << 23) | rng.integers(0, 1 << 23, k)
            | (rng.integers(0, 2, k) << 31))


def random_add(rng, n):
    """``n`` random binary32 addend pairs.

    The second addend is drawn relative to the first: exponent differences 0..3 with
    random signs (cancellation, carries), near-negatives ``-x`` plus a few ulps (massive
    and exact cancellation), differences around the 27-bit alignment window (sticky
    bits), subnormals, and unrelated random patterns (every class, including NaN/inf).
    """
    x = _mix(rng, [
        (45, _fp32_any),
        (20, lambda r, k: _fp32_with_exponent(r, k, 0, 3)),               # subnormal / tiny
        (15, lambda r, k: _fp32_with_exponent(r, k, 250, 254)),           # near overflow
        (20, lambda r, k: _fp32_with_exponent(r, k, 100, 150)),
    ], n)
    sign = rng.integers(0, 2, n).astype(np.uint64) << np.uint64(31)
    exponent = ((x >> np.uint64(23)) & np.uint64(0xFF)).astype(np.int64)
    fraction = rng.integers(0, 1 << 23, n).astype(np.uint64)
    kind = rng.choice(5, n, p=[0.30, 0.20, 0.15, 0.15, 0.20])
    delta = np.select([kind == 0, kind == 2], [rng.integers(-3, 4, n), rng.integers(20, 30, n)],
                      rng.integers(-60, 61, n))
    y_exponent = np.clip(exponent - delta, 0, 254).astype(np.uint64)
    related = sign | (y_exponent << np.uint64(23)) | fraction
    near_negative = (x ^ np.uint64(1 << 31)) + rng.integers(-4, 5, n).astype(np.uint64)
    near_negative &= np.uint64(0xFFFFFFFF)
    y = np.select([kind == 1, kind == 4], [near_negative, _fp32_any(rng, n).astype(np.uint64)],
                  related)
    swap = rng.integers(0, 2, n).astype(bool)
    return np.where(swap, y, x), np.where(swap, x, y)


def random_convert(rng, n):
    """``n`` random binary32 inputs, concentrated on the binary16 range and its edges.

    Exponents around the binary16 normal, subnormal, underflow and overflow ranges, low
    fraction bits forced to exact ties (and one ulp either side) in a third of the cases,
    plus unrelated random patterns.
    """
    x = _mix(rng, [
        (20, _fp32_any),
        (50, lambda r, k: _fp32_with_exponent(r, k, 112, 143)),           # normal / overflow
        (30, lambda r, k: _fp32_with_exponent(r, k, 98, 113)),            # subnormal / zero
    ], n)
    # Force the bits below the binary16 grid (13 in the normal range) to a tie +- 1.
    tie = rng.random(n) < 0.35
    low_bits = np.uint64(1 << 12) + rng.integers(-1, 2, n).astype(np.uint64)
    tied = (x & ~np.uint64((1 << 13) - 1)) | low_bits
    return (np.where(tie, tied, x) & np.uint64(0xFFFFFFFF),)


UNITS = {
    "mul": (edge_mul, random_mul),
    "add": (edge_add, random_add),
    "convert": (edge_convert, random_convert),
}
