"""The SEC bit-exact models (golden.sec) against the tensor-level model (golden.algorithm)."""

import numpy as np
import pytest

from golden import sec as G
from golden.algorithm import (decode_offsets, encode_offsets, select_tokens,
                              token_importance)
from golden.arith import Fp16Arith, Int8Arith

pytestmark = [pytest.mark.sec, pytest.mark.golden]


def _values(rng, count, style):
    if style == "ties":
        return rng.choice([0, 1, 2, 7], size=count)
    if style == "constant":
        return np.full(count, 5)
    return rng.integers(0, 1 << 15, size=count)


@pytest.mark.parametrize("style", ["random", "ties", "constant"])
@pytest.mark.parametrize("sort_width", [1, 3, 4, 32])
def test_multipass_selection_is_select_tokens(style, sort_width, seed):
    rng = np.random.default_rng([seed, sort_width])
    for _ in range(30):
        count = int(rng.integers(1, 150))
        values = _values(rng, count, style)
        for k in {1, count, min(sort_width, count), min(sort_width + 1, count),
                  int(rng.integers(1, count + 1))}:
            result = G.topk_select(values, k, sort_width)
            assert np.array_equal(result.selected, select_tokens(values, k)), (count, k)
            assert result.passes == -(-k // sort_width)
            assert not any(result.errors.values())


def test_selection_clamps_k_and_flags_it():
    values = np.array([3, 1, 4, 1, 5])
    zero = G.topk_select(values, 0, 2)
    assert zero.errors["bad_k"] and list(zero.selected) == [4]
    above = G.topk_select(values, 9, 2)
    assert above.errors["bad_k"] and list(above.selected) == [0, 1, 2, 3, 4]
    # equal importance: the lower index wins
    assert list(G.topk_select([1, 2, 2, 2], 2, 2).selected) == [1, 2]


def test_fp16_keys_order_like_the_numbers(seed):
    rng = np.random.default_rng(seed)
    probs = np.concatenate([rng.random(500).astype(np.float16),
                            np.float16([0.0, -0.0, 2.0 ** -24, 65504.0])])
    keys, invalid = Fp16Arith.sanitize_importance(Fp16Arith.importance_codes(probs))
    assert not invalid.any()
    order = np.argsort(probs.astype(np.float64), kind="stable")
    assert np.all(np.diff(keys[order]) >= 0)
    assert keys[-3] == 0   # -0 is the number zero


@pytest.mark.parametrize("bits, bad", [(0x7C00, True), (0xFC00, True), (0x7E00, True),
                                       (0xFE01, True), (0x8001, True), (0xBC00, True),
                                       (0x8000, False), (0x0000, False), (0x7BFF, False)])
def test_fp16_sanitize_table(bits, bad):
    key, invalid = Fp16Arith.sanitize_importance([bits])
    assert bool(invalid[0]) == bad
    assert key[0] == (0 if bad or bits == 0x8000 else bits)


def test_int8_quantization_is_monotonic():
    probs = np.linspace(0, 1, 1001)
    codes = Int8Arith.importance_codes(probs)
    assert codes[0] == 0 and codes[-1] == 255 and np.all(np.diff(codes) >= 0)
    assert Int8Arith.importance_codes([-0.5, 2.0]).tolist() == [0, 255]


def test_int8_codes_are_valid_keys():
    codes = np.arange(256)
    keys, invalid = Int8Arith.sanitize_importance(codes)
    assert keys.tolist() == codes.tolist() and not invalid.any()
    assert Int8Arith.importance_values(Int8Arith.importance_codes([0.25, 1 / 3])).tolist() \
        == [64 / 256, 85 / 256]


@pytest.mark.parametrize("arith", [Fp16Arith, Int8Arith], ids=lambda a: a.name)
def test_analyzer_is_token_importance(arith, seed):
    """The analyzer's buffer holds the codes of the tensor-level importance (max over rows)
    of the numbers the raw codes stand for."""
    rng = np.random.default_rng(seed)
    for sort_width in (1, 5, 32):
        count = int(rng.integers(1, 200))
        raw = arith.importance_codes(rng.random((2, 3, count)) ** 3)
        reference = arith.importance_codes(token_importance(arith.importance_values(raw)))
        beats = G.probability_beats(raw.reshape(-1, count), sort_width, rng=rng)
        result = G.analyze_layer(arith, beats, sort_width=sort_width, max_tokens=256)
        assert np.array_equal(result.importance, reference)
        assert result.tokens == count and not any(result.errors.values())


def test_analyzer_bad_input():
    def run(beats, **kw):
        return G.analyze_layer(Fp16Arith, beats, sort_width=2, max_tokens=4, **kw)

    ok = Fp16Arith.importance_codes(0.5)
    nan = run([G.ProbsBeat((0x7E00, ok), 0, 2, True)])
    assert nan.errors["bad_value"] and list(nan.importance) == [0, ok]
    big = run([G.ProbsBeat((ok, ok), 1, 9, True)])
    assert big.errors["bad_tokens"] and big.tokens == 4
    stray = run([G.ProbsBeat((ok, ok), 1, 2, True)])
    assert stray.errors["bad_group"] and list(stray.importance) == [0, 0]
    padding = run([G.ProbsBeat((ok, 0x7E00), 0, 1, True)])   # lane 1 is past M: ignored
    assert not any(padding.errors.values()) and list(padding.importance) == [ok]


@pytest.mark.parametrize("bits", [2, 3, 8])
def test_offset_models_match_the_algorithm(bits, seed):
    rng = np.random.default_rng([seed, bits])
    layers = [[0], [999], [0, 999], list(range(20))]
    layers += [sorted(rng.choice(1000, size=int(rng.integers(1, 50)), replace=False))
               for _ in range(20)]
    codes, errors = G.encode_stream(layers, bits)
    assert not any(errors.values())
    flat = [c for c, _ in codes]
    assert flat == [int(c) for layer in layers for c in encode_offsets(layer, bits)]
    decoded, errors = G.decode_stream(codes, bits, 1000)
    assert not any(errors.values())
    assert [i for i, _ in decoded] == [int(i) for layer in layers for i in layer]
    ends = [n for n, (_, last) in enumerate(decoded) if last]
    assert len(ends) == len(layers)
    for layer in layers:
        assert np.array_equal(decode_offsets(encode_offsets(layer, bits), bits), layer)


def test_offset_models_bad_input():
    codes, errors = G.encode_stream([[3, 3, 1]], 2)
    assert errors["not_ascending"]
    assert [i for i, _ in G.decode_stream(codes, 2, 100)[0]] == [3, 4, 5]
    out, errors = G.decode_stream([(1, False), (0, True)], 2, 100)
    assert errors["trailing_escape"] and out == [(0, False), (3, True)]
    out, errors = G.decode_stream([(3, False)] * 5 + [(1, True)], 2, 10)
    assert errors["overflow"] and out[-1] == (9, True)


def test_sorter_cycle_model():
    # one pass, every mask word holds a selected token: M + r + k + 3
    assert G.sorter_cycles(8, 2, 4, [0, 4]) == 8 + 2 + 2 + 0 + 3
    # empty words other than the last cost one cycle each
    assert G.sorter_cycles(16, 1, 4, [15]) == 16 + 1 + 1 + 3 + 3
    assert G.published_sorter_cycles(11648, 4659, 32) == 146 * 11648


def test_semantic_concentrator_model_end_to_end(seed):
    rng = np.random.default_rng(seed)
    raw = Fp16Arith.importance_codes(rng.random((3, 70)).astype(np.float16))
    beats = G.probability_beats(raw, 5, rng=rng)
    result = G.semantic_concentrator(Fp16Arith, beats, 17, sort_width=5, max_tokens=72,
                                     offset_bits=2)
    reference = select_tokens(token_importance(raw.astype(np.uint16).view(np.float16)[None]),
                              17)
    assert np.array_equal(result.selected, reference)
    assert np.array_equal(decode_offsets([c for c, _ in result.codes], 2), reference)
    assert [last for _, last in result.codes][-1] and not any(result.errors.values())
