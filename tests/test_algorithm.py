"""Tests of the tensor-level golden model (golden/algorithm.py) against spec 2.2-2.4."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from golden.algorithm import (
    PUBLISHED_SEC,
    ZERO,
    CompressedMatrix,
    candidate_offsets,
    compress,
    compressed_gemm,
    decode_offsets,
    encode_offsets,
    nested_selection,
    select_tokens,
    similarity_concentration,
    stage_sizes,
    token_importance,
    token_offsets,
)

pytestmark = pytest.mark.golden

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)


# --------------------------------------------------------------------------------------
# Independent, deliberately naive reading of spec 2.3 (one vector at a time)
# --------------------------------------------------------------------------------------


def reference_sic(x, positions, fs, hs, window, size, theta, m_tile):
    """Literal per-vector implementation of spec 2.3: (similar, zero, group, link, best, out)."""
    x = np.asarray(x, dtype=np.float64)
    count, dim = x.shape
    slots = -(-dim // size)
    vectors = np.zeros((count, slots * size))
    vectors[:, :dim] = x
    vectors = vectors.reshape(count, slots, size)
    row_of = {int(p): i for i, p in enumerate(positions)}
    bf, bh, bw = window
    offsets = [
        df * fs + dh * hs + dw
        for df in range(bf)
        for dh in range(bh)
        for dw in range(bw)
        if (df, dh, dw) != (0, 0, 0)
    ]

    def norm(v):
        return math.sqrt(float(np.dot(v, v)))

    def cosine(a, b):
        denominator = norm(a) * norm(b)
        return float(np.dot(a, b)) / denominator if denominator > 0 else 0.0

    zero = ~vectors.any(axis=-1)
    link = np.full((count, slots), -1)
    group = np.full((count, slots), -1)
    best_similarity = np.zeros((count, slots))
    for i in range(count):
        for t in range(slots):
            if zero[i, t]:
                continue
            similarities = []
            for offset in offsets:
                j = row_of.get(int(positions[i]) - offset)
                valid = j is not None and j // m_tile == i // m_tile and not zero[j, t]
                similarities.append(cosine(vectors[i, t], vectors[j, t]) if valid else 0.0)
            best = int(np.argmax(similarities)) if similarities else 0
            best_similarity[i, t] = similarities[best] if similarities else 0.0
            if similarities and similarities[best] > theta:
                link[i, t] = row_of[int(positions[i]) - offsets[best]]
                group[i, t] = group[link[i, t], t]
            else:
                group[i, t] = i
    out = np.zeros_like(vectors)
    for t in range(slots):
        for root in set(group[:, t]) - {-1}:
            members = [i for i in range(count) if group[i, t] == root]
            total = np.zeros(size)
            for i in members:
                total = total + vectors[i, t]
            out[members, t] = total / len(members)
    return link >= 0, zero, group, link, best_similarity, out.reshape(count, slots * size)[:, :dim]


def sic(x, *, fs=100, hs=10, **kwargs):
    """similarity_concentration with convenient defaults for hand-made cases."""
    return similarity_concentration(np.asarray(x, dtype=float), frame_stride=fs, row_stride=hs, **kwargs)


@st.composite
def sic_cases(draw):
    """Small integer-valued inputs: many zeros, duplicates, exact ties, holes."""
    count = draw(st.integers(0, 24))
    dim = draw(st.integers(1, 10))
    x = draw(hnp.arrays(np.int8, (count, dim), elements=st.integers(-2, 2)))
    span = draw(st.integers(count, 3 * count + 1))
    positions = np.sort(draw(st.permutations(range(span)))[:count]) if count else np.zeros(0, int)
    return dict(
        x=x.astype(float),
        positions=np.asarray(positions, dtype=np.int64),
        fs=draw(st.integers(1, 9)),
        hs=draw(st.integers(1, 5)),
        window=tuple(draw(st.integers(1, 3)) for _ in range(3)),
        size=draw(st.integers(1, 4)),
        theta=draw(st.sampled_from([0.0, 0.3, 0.5, 0.9, 1.0])),
        m_tile=draw(st.integers(1, 12)),
    )


def run_case(case):
    return similarity_concentration(
        case["x"],
        frame_stride=case["fs"],
        row_stride=case["hs"],
        window=case["window"],
        vector_size=case["size"],
        threshold=case["theta"],
        m_tile=case["m_tile"],
        positions=case["positions"],
    )


@PROPERTY
@given(sic_cases())
def test_matches_naive_reference(case):
    result = run_case(case)
    similar, zero, group, link, best, out = reference_sic(
        case["x"], case["positions"], case["fs"], case["hs"], case["window"],
        case["size"], case["theta"], case["m_tile"],
    )
    np.testing.assert_array_equal(result.zero, zero)
    np.testing.assert_array_equal(result.similar, similar)
    np.testing.assert_array_equal(result.link, link)
    np.testing.assert_array_equal(result.best, best)
    np.testing.assert_array_equal(result.group, group)
    np.testing.assert_array_equal(result.out, out)


@PROPERTY
@given(sic_cases())
def test_group_invariants(case):
    result = run_case(case)
    count, slots = result.group.shape
    rows = np.arange(count)[:, None]
    live = ~result.zero
    group = np.where(live, result.group, rows)
    # groups point backwards, within the tile, to a root of itself
    assert np.all(group <= rows)
    assert np.all(group // case["m_tile"] == rows // case["m_tile"])
    assert np.all(np.take_along_axis(group, group, axis=0) == group)
    assert np.all(result.group[result.zero] == ZERO)
    assert np.all((result.link < rows) | (result.link == -1))
    assert not np.any(result.similar & result.zero)
    # a vector that is not similar is its own group
    assert np.all(result.group[live & ~result.similar] == rows.repeat(slots, 1)[live & ~result.similar])
    # out is constant within a group and zero on zero vectors
    size = case["size"]
    padded = np.zeros((count, slots * size))
    padded[:, : result.out.shape[1]] = result.out
    vectors = padded.reshape(count, slots, size)
    roots = np.take_along_axis(vectors, group[:, :, None], axis=0)
    assert np.array_equal(vectors, roots)
    assert not np.any(vectors[result.zero])
    # sparsity in [0, 1] and equal to its definition
    assert 0.0 <= result.sparsity <= 1.0
    if result.n_vectors:
        assert result.sparsity == (result.n_similar + result.n_zero) / result.n_vectors
        assert result.group_sizes().sum() == result.n_vectors - result.n_zero
        assert result.group_sizes().size == result.n_unique


# --------------------------------------------------------------------------------------
# Hand-made cases for every rule of spec 2.3
# --------------------------------------------------------------------------------------


def test_candidate_offsets_default_window():
    assert candidate_offsets(182, 14).tolist() == [1, 14, 15, 182, 183, 196, 197]
    assert candidate_offsets(12, 4, (1, 1, 3)).tolist() == [1, 2]
    assert candidate_offsets(12, 4, (1, 1, 1)).tolist() == []


def test_row_wrap_left_neighbour_of_column_zero_is_previous_row_end():
    # 1 frame of 2 rows x 3 columns (HS = 3): position 3 is row 1, column 0.
    x = np.array([[-5.0, 1], [0, 7], [1, 0], [1, 0.1], [9, -9], [-9, 9]])
    result = sic(x, fs=6, hs=3, window=(1, 2, 2), vector_size=2)
    # candidates of position 3: 2 (offset 1, the previous row's last token), 0 (offset 3)
    assert result.link[3, 0] == 2
    assert result.choice[3, 0] == 0
    assert result.group[3, 0] == 2


def test_frame_wrap_of_linear_offsets():
    # FS = 4, HS = 2, one vector per token; position 4 is frame 1, row 0, column 0.
    x = np.array([[1.0, 0], [0, 1], [-1, 0], [3, 3], [2.9, 3.1]])
    result = sic(x, fs=4, hs=2, vector_size=2)
    # offsets 1, 2, 3, 4, 5, 6, 7: offset 1 reaches position 3 = frame 0, row 1, col 1
    assert result.offsets.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert result.link[4, 0] == 3


def test_ties_go_to_the_first_candidate_in_window_order():
    x = np.array([[1.0, 2], [1, 2], [1, 2]])
    result = sic(x, fs=2, hs=1, vector_size=2)
    # position 2: offsets in window order 1 (pos 1), 1 (HS=1, pos 1), 2 (pos 0), 2 (FS, pos 0)...
    assert result.choice[2, 0] == 0
    assert result.link[2, 0] == 1


def test_tie_order_is_window_order_not_offset_value():
    # FS = 2 < HS = 5: order is (0,0,1)=1, (0,1,0)=5, (0,1,1)=6, (1,0,0)=2, ...
    x = np.zeros((6, 2))
    x[5] = [1, 1]
    x[0] = [2, 2]  # offset 5, window index 1
    x[3] = [2, 2]  # offset 2, window index 3: the same cosine
    x[4] = [1, -1]  # offset 1: dissimilar
    result = sic(x, fs=2, hs=5, vector_size=2)
    assert result.choice[5, 0] == 1
    assert result.link[5, 0] == 0


def test_higher_similarity_beats_earlier_candidate():
    x = np.array([[1.0, 0.05], [1, 0.2], [1, 0.1]])
    result = sic(x, fs=10, hs=2, vector_size=2, threshold=0.5)
    # position 2: offset 1 -> row 1 (cos < cos with row 0 at offset 2)
    assert result.link[2, 0] == 0
    assert result.choice[2, 0] == 1


def test_threshold_is_strict():
    # cos((3, 4), (1, 0)) = 3/5 exactly
    x = np.array([[1.0, 0], [3, 4]])
    assert not sic(x, vector_size=2, threshold=0.6).similar[1, 0]
    assert sic(x, vector_size=2, threshold=0.59).similar[1, 0]


def test_threshold_zero_needs_positive_cosine():
    x = np.array([[1.0, 0], [0, 1], [-1, -0.5], [-2, -1]])
    result = sic(x, fs=10, hs=5, vector_size=2, threshold=0.0)
    assert not result.similar[1, 0]  # cos 0 is not > 0
    assert not result.similar[2, 0]  # negative cosine: best is 0 (invalid candidates)
    assert result.link[3, 0] == 2
    assert result.best[2, 0] == 0.0  # invalid candidates (negative positions) count as 0
    only_left = sic(x, fs=10, hs=5, window=(1, 1, 2), vector_size=2, threshold=0.0)
    assert only_left.best[2, 0] == pytest.approx(-0.5 / np.sqrt(1.25))  # every candidate valid
    assert not only_left.similar[2, 0]


def test_pruned_positions_are_invalid_candidates():
    x = np.array([[1.0, 1], [1, 1]])
    # positions 0 and 2: offset 1 from position 2 is the pruned position 1
    result = sic(x, fs=10, hs=5, window=(1, 1, 2), vector_size=2, positions=[0, 2])
    assert not result.similar[1, 0]
    result = sic(x, fs=10, hs=2, window=(1, 2, 1), vector_size=2, positions=[0, 2])
    assert result.link[1, 0] == 0  # offset HS = 2 reaches position 0


def test_negative_positions_are_invalid():
    x = np.ones((3, 2))
    result = sic(x, fs=2, hs=1, window=(2, 1, 1), vector_size=2, positions=[1, 2, 3])
    # position 1 - FS = -1 is out of range; position 3 - 2 = 1 is row 0
    assert not result.similar[0, 0]
    assert result.link[2, 0] == 0


def test_zero_vectors_form_no_group_and_are_not_candidates():
    x = np.array([[2.0, 2, 1, 0], [0, 0, 1, 0], [1, 1, 1, 0]])
    result = sic(x, fs=10, hs=2, window=(1, 2, 2), vector_size=2)
    assert result.zero.tolist() == [[False, False], [True, False], [False, False]]
    assert result.group[1, 0] == ZERO and not result.similar[1, 0]
    np.testing.assert_array_equal(result.out[1, :2], [0, 0])
    # slot 0 of row 2: offset 1 is a zero vector (invalid), offset 2 reaches row 0
    assert result.link[2, 0] == 0
    # slot 1: all three (1, 0) vectors chain into one group rooted at row 0
    assert result.group[:, 1].tolist() == [0, 0, 0]
    assert result.sparsity == pytest.approx(4 / 6)


def test_zero_candidate_does_not_bridge_groups():
    x = np.array([[1.0, 0], [0, 0], [1, 0]])
    result = sic(x, fs=10, hs=5, window=(1, 1, 2), vector_size=2)
    assert not result.similar[2, 0]
    assert result.group[:, 0].tolist() == [0, ZERO, 2]


def test_tiles_are_runs_of_retained_tokens():
    x = np.ones((5, 2))
    result = sic(x, fs=10, hs=5, vector_size=2, m_tile=2, positions=[0, 1, 2, 6, 7])
    # tiles: rows {0,1}, {2,3}, {4}; position 7 - 1 = 6 is row 3 but another tile
    assert result.similar[:, 0].tolist() == [False, True, False, False, False]
    result = sic(x, fs=10, hs=5, vector_size=2, m_tile=3, positions=[0, 1, 2, 6, 7])
    assert result.similar[:, 0].tolist() == [False, True, True, False, True]


def test_transitive_groups_use_original_vectors_and_their_mean():
    x = np.array([[1.0, 0], [1, 0.45], [1, 0.9]])
    # consecutive pairs are similar (cos > 0.9), rows 0 and 2 are not (cos ~ 0.74)
    result = sic(x, fs=10, hs=5, window=(1, 1, 3), vector_size=2, threshold=0.9)
    assert result.link[:, 0].tolist() == [-1, 0, 1]
    assert result.group[:, 0].tolist() == [0, 0, 0]
    np.testing.assert_allclose(result.out, np.tile(x.mean(axis=0), (3, 1)))


def test_long_chain_is_fully_resolved():
    count = 300  # far longer than any pointer-doubling cap of a few rounds
    x = np.ones((count, 4))
    result = sic(x, fs=1000, hs=500, vector_size=4, window=(1, 1, 2), m_tile=count)
    assert np.all(result.group == 0)
    assert result.sparsity == pytest.approx((count - 1) / count)


def test_padding_of_the_last_vector_is_internal():
    x = np.array([[1.0, 2, 3, 4, 5], [1, 2, 3, 4, 5.5], [0, 0, 0, 0, 0]])
    result = sic(x, window=(1, 1, 2), vector_size=2)
    assert result.out.shape == (3, 5)
    assert result.similar.shape == (3, 3)
    assert result.similar[1].tolist() == [True, True, True]
    np.testing.assert_allclose(result.out[1, 4], 5.25)
    assert result.zero[2].tolist() == [True, True, True]


def test_vector_larger_than_the_token():
    x = np.array([[1.0, 1], [1, 1.01]])
    result = sic(x, window=(1, 1, 2), vector_size=32)
    assert result.similar.shape == (2, 1) and result.similar[1, 0]


def test_float16_and_integer_inputs_use_float64_arithmetic():
    x = np.array([[1, 2], [1, 2]], dtype=np.int8)
    result = sic(x.astype(np.float16), window=(1, 1, 2), vector_size=2)
    assert result.out.dtype == np.float64 and result.similar[1, 0]
    assert similarity_concentration(x, frame_stride=4, row_stride=2, vector_size=2).similar[1, 0]


def test_empty_input():
    result = sic(np.zeros((0, 8)), vector_size=4)
    assert result.out.shape == (0, 8) and result.sparsity == 0.0
    assert math.isinf(result.compression_ratio)


def test_group_sizes_and_compression_ratio():
    x = np.array([[1.0], [1], [1], [-1], [0]])
    result = sic(x, window=(1, 1, 2), vector_size=1)
    assert sorted(result.group_sizes().tolist()) == [1, 3]
    assert result.n_unique == 2 and result.compression_ratio == 2.5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(threshold=1.5), "threshold"),
        (dict(threshold=-0.1), "threshold"),
        (dict(vector_size=0), "vector_size"),
        (dict(m_tile=0), "m_tile"),
        (dict(window=(2, 2)), "window"),
        (dict(window=(0, 2, 2)), "window"),
        (dict(positions=[0, 0]), "ascending"),
        (dict(positions=[0, 1, 2]), "positions"),
        (dict(positions=[-1, 0]), "non-negative"),
        (dict(fs=0), "frame_stride"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sic(np.ones((2, 4)), **kwargs)


def test_non_finite_input_is_rejected():
    with pytest.raises(ValueError, match="finite"):
        sic(np.array([[1.0, np.nan]]))


# --------------------------------------------------------------------------------------
# SEC (spec 2.2)
# --------------------------------------------------------------------------------------


def test_importance_is_max_over_heads_and_rows():
    probs = np.zeros((2, 3, 4))
    probs[0, 0, 0] = 0.5
    probs[1, 2, 1] = 0.4
    probs[:, :, 2] = 0.3  # larger sum, smaller max
    assert token_importance(probs).tolist() == [0.5, 0.4, 0.3, 0.0]
    with pytest.raises(ValueError):
        token_importance(np.zeros((2, 3)))


def test_select_tokens_order_and_ties():
    importance = np.array([0.1, 0.5, 0.3, 0.5, 0.3, 0.0])
    assert select_tokens(importance, 1).tolist() == [1]
    assert select_tokens(importance, 2).tolist() == [1, 3]
    assert select_tokens(importance, 3).tolist() == [1, 2, 3]  # tie 0.3: index 2 beats 4
    assert select_tokens(importance, 6).tolist() == list(range(6))
    assert select_tokens(np.zeros(5), 2).tolist() == [0, 1]
    assert select_tokens(np.array([3, 7, 7, 0], dtype=np.uint8), 2).tolist() == [1, 2]
    assert select_tokens(np.array([-0.0, 0.0]), 1).tolist() == [0]


@pytest.mark.parametrize("k", [0, 7])
def test_select_tokens_rejects_bad_k(k):
    with pytest.raises(ValueError):
        select_tokens(np.ones(6), k)


@PROPERTY
@given(hnp.arrays(np.int16, st.integers(1, 40), elements=st.integers(-3, 3)), st.data())
def test_select_tokens_matches_sorted_order(importance, data):
    k = data.draw(st.integers(1, importance.size))
    ranked = sorted(range(importance.size), key=lambda i: (-int(importance[i]), i))
    assert select_tokens(importance, k).tolist() == sorted(ranked[:k])


def test_stage_sizes_floor_and_clamp():
    assert stage_sizes(11648, PUBLISHED_SEC["llava-video"].ratios) == [4659, 3494, 2329, 1747, 1164]
    assert stage_sizes(10, [0.05, 2.0]) == [1, 1]  # clamped to >= 1, then to retained
    assert stage_sizes(3, [1.0, 0.5, 0.0]) == [3, 1, 1]
    with pytest.raises(ValueError):
        stage_sizes(0, [0.5])


def test_nested_selection_selects_among_survivors():
    scores = np.array([9.0, 1, 8, 2, 7, 3, 6, 4, 5, 0])
    seen = []

    def importance_of(stage, retained):
        seen.append(retained.copy())
        # stage 1 reverses the preference to show that it only sees survivors
        return scores[retained] if stage == 0 else -scores[retained]

    survivors = nested_selection(10, [0.5, 0.2], importance_of)
    assert survivors[0].tolist() == [0, 2, 4, 6, 8]
    assert survivors[1].tolist() == [6, 8]
    assert seen[1].tolist() == [0, 2, 4, 6, 8]
    with pytest.raises(ValueError, match="one value per retained token"):
        nested_selection(10, [0.5], lambda stage, retained: np.ones(3))


# --------------------------------------------------------------------------------------
# Offsets
# --------------------------------------------------------------------------------------


def test_offsets_definition():
    assert token_offsets([0, 3, 4, 10]).tolist() == [1, 3, 1, 6]


def test_offset_escape_codes():
    # 3-bit codes: E = 7; offsets 1, 7, 8, 15, 14
    codes = encode_offsets([0, 7, 15, 30, 44], 3)
    assert codes.tolist() == [1, 7, 0, 1, 0, 0, 1, 0, 7]
    assert codes.dtype == np.uint8
    assert decode_offsets(codes, 3).tolist() == [0, 7, 15, 30, 44]


def test_one_bit_codes_and_dtypes():
    assert encode_offsets([2], 1).tolist() == [0, 0, 1]
    assert encode_offsets([70000], 16).dtype == np.uint16
    assert encode_offsets([70000], 17).dtype == np.uint32
    assert encode_offsets([], 4).size == 0 and decode_offsets([], 4).size == 0


@pytest.mark.parametrize(
    "codes, bits, message",
    [([1, 0], 3, "escape"), ([8], 3, "0 .. 7"), ([-1], 3, "0 .. 7")],
)
def test_malformed_code_streams_are_rejected(codes, bits, message):
    with pytest.raises(ValueError, match=message):
        decode_offsets(codes, bits)


def test_bad_offset_arguments():
    with pytest.raises(ValueError):
        encode_offsets([3, 3], 4)
    with pytest.raises(ValueError):
        encode_offsets([1], 33)
    with pytest.raises(ValueError):
        encode_offsets([1], 0)


@PROPERTY
@given(st.sets(st.integers(0, 5000), max_size=60), st.integers(1, 12))
def test_offsets_round_trip(indices, bits):
    indices = np.array(sorted(indices), dtype=np.int64)
    codes = encode_offsets(indices, bits)
    assert np.all(codes < 2**bits)
    assert decode_offsets(codes, bits).tolist() == indices.tolist()
    # one code per token plus one escape per full field width of each gap
    expected = int(np.sum((token_offsets(indices) - 1) // (2**bits - 1) + 1))
    assert codes.size == expected


# --------------------------------------------------------------------------------------
# Compressed GEMM (spec 2.4)
# --------------------------------------------------------------------------------------


@st.composite
def grouped_integer_matrices(draw):
    """Integer-valued merged matrices with arbitrary valid groups per tile slot."""
    count = draw(st.integers(1, 20))
    size = draw(st.integers(1, 4))
    slots = draw(st.integers(1, 4))
    dim = draw(st.integers((slots - 1) * size + 1, slots * size))
    m_tile = draw(st.integers(1, 8))
    group = np.empty((count, slots), dtype=np.int64)
    for i in range(count):
        tile_start = i - i % m_tile
        for t in range(slots):
            kind = draw(st.sampled_from(["zero", "root", "join"]))
            roots = [r for r in range(tile_start, i) if group[r, t] == r]
            if kind == "zero":
                group[i, t] = ZERO
            elif kind == "join" and roots:
                group[i, t] = draw(st.sampled_from(roots))
            else:
                group[i, t] = i
    values = draw(hnp.arrays(np.int8, (count, slots, size), elements=st.integers(-9, 9)))
    merged = np.zeros((count, slots, size))
    live = group != ZERO
    merged[live] = values[np.where(live, group, 0), np.arange(slots)][live]
    merged = merged.reshape(count, -1)
    merged[:, dim:] = 0
    weights = draw(hnp.arrays(np.int8, (dim, draw(st.integers(1, 5))), elements=st.integers(-9, 9)))
    return merged[:, :dim], group, size, m_tile, weights.astype(float)


@PROPERTY
@given(grouped_integer_matrices())
def test_compressed_gemm_equals_dense_gemm_exactly(case):
    merged, group, size, m_tile, weights = case
    packed = compress(merged, group, vector_size=size, m_tile=m_tile)
    np.testing.assert_array_equal(packed.decompress(), merged)
    np.testing.assert_array_equal(compressed_gemm(packed, weights), merged @ weights)
    assert packed.n_unique == int(np.count_nonzero(group == np.arange(group.shape[0])[:, None]))


@PROPERTY
@given(sic_cases(), st.integers(1, 4))
def test_compressed_gemm_equals_dense_gemm_on_sic_output(case, columns):
    result = run_case(case)
    weights = np.random.default_rng(0).integers(-5, 6, (case["x"].shape[1], columns)).astype(float)
    packed = result.compress()
    np.testing.assert_array_equal(packed.decompress(), result.out)
    assert packed.n_unique == result.n_unique
    dense = result.out @ weights
    # only the float64 summation order differs from the dense product
    np.testing.assert_allclose(compressed_gemm(result, weights), dense, rtol=1e-12, atol=1e-12)


def test_compressed_form_of_one_tile_slot():
    x = np.array([[1.0, 0], [1, 0], [0, 0], [0, 1], [0, 1]])
    result = sic(x, window=(1, 1, 2), vector_size=2, m_tile=4)
    packed = result.compress()
    assert isinstance(packed, CompressedMatrix)
    assert [piece.map.tolist() for piece in packed.tiles[0]] == [[0, 0, ZERO, 1]]
    np.testing.assert_array_equal(packed.tiles[0][0].unique, [[1, 0], [0, 1]])
    assert packed.tiles[1][0].map.tolist() == [0]  # row 4 starts the next tile


def test_compress_rejects_malformed_groups():
    merged = np.array([[1.0, 1], [1, 1]])
    with pytest.raises(ValueError, match="backwards"):
        compress(merged, np.array([[1], [1]]), vector_size=2)
    with pytest.raises(ValueError, match="m-tile"):
        compress(merged, np.array([[0], [0]]), vector_size=2, m_tile=1)
    with pytest.raises(ValueError, match="constant"):
        compress(np.array([[1.0, 1], [1, 2]]), np.array([[0], [0]]), vector_size=2)
    with pytest.raises(ValueError, match="zero"):
        compress(merged, np.array([[0], [ZERO]]), vector_size=2)
    with pytest.raises(ValueError, match="own group"):
        compress(np.ones((3, 2)), np.array([[0], [0], [1]]), vector_size=2)
    with pytest.raises(ValueError, match="shape"):
        compress(merged, np.array([[0, 0], [0, 0]]), vector_size=2)


def test_compressed_gemm_checks_weights():
    result = sic(np.ones((2, 3)), vector_size=2)
    with pytest.raises(ValueError, match="rows"):
        compressed_gemm(result, np.ones((4, 2)))
    with pytest.raises(TypeError):
        compressed_gemm(np.ones((2, 3)), np.ones((3, 2)))


# --------------------------------------------------------------------------------------
# Agreement with the authors' formulation on ordinary video data (spec 2.3, last note)
# --------------------------------------------------------------------------------------


def authors_style_sic(full, fs, hs, window, size, theta, m_tile, rounds):
    """Our reading of the authors' formulation, for comparison only.

    The whole image span is processed with pruned tokens present as all-zero rows;
    every candidate is a zero-filled shift of the whole sequence; the best candidate
    is the argmax over the stacked similarities; chains are resolved by pointer
    doubling capped at ``rounds`` rounds (the authors use the frame count).

    Returns (similar, pointer) over the full span; pointer holds span positions.
    """
    count, dim = full.shape
    vectors = full.reshape(count, dim // size, size)
    norms = np.sqrt(np.einsum("itv,itv->it", vectors, vectors))
    kept = vectors.any(axis=(1, 2))
    tile = (np.cumsum(kept) - 1) // m_tile
    offsets = candidate_offsets(fs, hs, window)
    similarity = np.zeros((offsets.size, count, vectors.shape[1]))
    for index, offset in enumerate(offsets):
        if offset >= count:
            continue
        dots = np.einsum("itv,itv->it", vectors[offset:], vectors[:-offset])
        denominators = norms[offset:] * norms[:-offset]
        cosines = np.divide(dots, denominators, out=np.zeros_like(dots), where=denominators > 0)
        same_tile = (tile[offset:] == tile[:-offset])[:, None]
        similarity[index, offset:] = np.where(same_tile, cosines, 0.0)
    similar = similarity.max(axis=0) > theta
    rows = np.arange(count)[:, None]
    pointer = np.where(similar, rows - offsets[similarity.argmax(axis=0)], rows)
    for _ in range(rounds):
        advanced = np.take_along_axis(pointer, pointer, axis=0)
        if np.array_equal(advanced, pointer):
            break
        pointer = advanced
    return similar, pointer


@pytest.mark.parametrize("keep", [1.0, 0.5, 0.2])
def test_agrees_with_authors_formulation_on_video(keep):
    from golden.workloads import GEOMETRIES, attention_probs, video_tokens

    geometry = GEOMETRIES["small"]
    tokens = video_tokens(geometry, 128, seed=5).astype(np.float64)
    importance = token_importance(attention_probs(tokens, seed=5))
    kept = select_tokens(importance, max(1, int(keep * tokens.shape[0])))
    full = np.zeros_like(tokens)
    full[kept] = tokens[kept]
    ours = similarity_concentration(tokens[kept], positions=kept, m_tile=64, **geometry.strides)
    similar, pointer = authors_style_sic(full, geometry.frame_stride, geometry.row_stride, (2, 2, 2), 32, 0.9, 64,
                                         rounds=geometry.frames)
    assert ours.n_similar > 0
    np.testing.assert_array_equal(ours.similar, similar[kept])
    np.testing.assert_array_equal(kept[ours.group], pointer[kept])


def test_divergence_pointer_doubling_cap_on_single_frame_images():
    # one frame, a chain of 6 identical tokens along a row: 1 round of pointer doubling
    # (the authors' cap for a 1-frame image) leaves the chain unresolved
    x = np.ones((6, 32))
    ours = similarity_concentration(x, frame_stride=6, row_stride=6)
    similar, pointer = authors_style_sic(x, 6, 6, (2, 2, 2), 32, 0.9, 1024, rounds=1)
    np.testing.assert_array_equal(ours.similar, similar)
    assert ours.group[:, 0].tolist() == [0, 0, 0, 0, 0, 0]
    assert pointer[:, 0].tolist() == [0, 0, 0, 1, 2, 3]
