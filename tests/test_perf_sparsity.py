"""System model (perf): workloads, sparsity sources (tensor-level model, traces, density)."""

import dataclasses
import json

import numpy as np
import pytest

from golden.algorithm import similarity_concentration
from golden.workloads import video_tokens
from perf import synthetic
from perf.sparsity import count_tiles, density_profile, mac_counts
from perf.traces import load_any, load_trace, save_trace
from perf.workload import CASES, INPUTS, ModelShape, custom_case, get_case, load_cases

pytestmark = pytest.mark.perf

MODEL = ModelShape("test", blocks=3, hidden=128, heads=2, kv_dim=32, ffn=256)


def small_case(**changes):
    options = dict(frames=8, rows=6, cols=7, model=MODEL, sec_layers=(1,), sec_ratios=(0.5,))
    options.update(changes)
    return custom_case("small-video", **options)


# --------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------


def test_the_nine_published_cases_have_the_published_geometry():
    sequences = {name: case.sequence for name, case in CASES.items()}
    assert sequences == {"llava-video/videomme": 11648, "llava-video/mlvu": 11648,
                         "llava-video/mvbench": 2366, "llava-onevision/videomme": 6272,
                         "llava-onevision/mlvu": 6272, "llava-onevision/mvbench": 6272,
                         "minicpm-v/videomme": 12736, "minicpm-v/mlvu": 12736,
                         "minicpm-v/mvbench": 402}
    gemms = {g.name: (g.in_features, g.out_features, g.input) for g in CASES["llava-video/mlvu"].model.gemms()}
    assert gemms["k"] == (3584, 512, "q_proj") and gemms["up"] == (3584, 18944, "gate_proj")
    assert gemms["down"] == (18944, 3584, "down_proj") and gemms["attn"][2] == "query"


def test_unknown_case_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown case 'llava/none'.*llava-video/videomme"):
        get_case("llava/none")


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_workload_files(tmp_path, suffix):
    data = {"model": {"blocks": 4, "ffn": 1024},
            "case": [{"name": "mine", "frames": 3, "rows": 4, "cols": 5, "sec_layers": [1],
                      "sec_ratios": [0.5], "threshold": 0.8}]}
    path = tmp_path / f"work{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text('[model]\nblocks = 4\nffn = 1024\n[[case]]\nname = "mine"\nframes = 3\n'
                        'rows = 4\ncols = 5\nsec_layers = [1]\nsec_ratios = [0.5]\nthreshold = 0.8\n')
    case = load_cases(path)["mine"]
    assert (case.model.blocks, case.model.ffn, case.model.hidden) == (4, 1024, 3584)
    assert (case.sequence, case.geometry.frame_stride, case.geometry.row_stride) == (60, 20, 5)
    assert case.threshold == 0.8


def test_bad_workload_files_name_the_problem(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"case": [{"name": "x", "frames": 2, "rows": 2, "cols": 2,
                                          "colour": 1}]}))
    with pytest.raises(ValueError, match="unknown key.*colour"):
        load_cases(path)
    path.write_text(json.dumps({"case": [{"name": "x", "frames": 2, "rows": 2, "cols": 2,
                                          "sec_layers": [40], "sec_ratios": [0.5]}]}))
    with pytest.raises(ValueError, match=r"SEC layer must be an integer in \[0, 27\], got 40"):
        load_cases(path)
    path.write_text(json.dumps({"model": {"heads": 5}, "case": []}))
    with pytest.raises(ValueError, match="hidden .3584. must be a multiple of heads .5."):
        load_cases(path)


# --------------------------------------------------------------------------------------
# Sparsity from the tensor-level model
# --------------------------------------------------------------------------------------


def test_synthetic_sparsity_equals_the_tensor_level_model(tmp_path):
    """Each GEMM input's counts are exactly those of similarity_concentration on the same
    activations (the rendered layer, restricted to the retained tokens)."""
    case = small_case()
    profile = synthetic.synthetic_profile(case, vector_size=16, m_tile=64, cache_dir=tmp_path)
    profile.validate(case)
    assert [event.block for event in profile.sec] == [1]
    kept = profile.sec[0].selected
    # (block, input, SEC stage): SEC at block 1 prunes before its gate/down inputs
    for block, name, stage in [(0, "q_proj", 0), (1, "o_proj", 0), (1, "gate_proj", 1),
                               (2, "down_proj", 1)]:
        width = MODEL.input_width(name)
        tokens = video_tokens(case.geometry, width, seed=case.video_seed,
                              projection_seed=synthetic.projection_seed(stage, name))
        positions = np.arange(case.sequence) if (block, name) in [(0, "q_proj"), (1, "o_proj")] \
            else kept
        result = similarity_concentration(tokens[positions], frame_stride=case.geometry.frame_stride,
                                          row_stride=case.geometry.row_stride, vector_size=16,
                                          m_tile=64, threshold=case.threshold, positions=positions)
        item = profile.inputs[name][block]
        assert item.tokens == positions.size
        assert item.unique_total == result.n_unique
        assert item.sparsity == pytest.approx(result.sparsity)
        expected = count_tiles(result.similar, result.zero, 64)
        assert np.array_equal(item.unique, expected.unique)


def test_synthetic_sparsity_is_cached_and_chunking_changes_nothing(tmp_path, monkeypatch):
    case = small_case(sec_layers=(), sec_ratios=())
    first = synthetic.synthetic_profile(case, vector_size=16, m_tile=64, cache_dir=tmp_path)
    assert len(list(tmp_path.rglob("*.npz"))) == len(INPUTS)   # one SEC stage: blocks share
    monkeypatch.setattr(synthetic, "CHUNK_SLOTS", 3)

    def fail(task):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(synthetic, "input_sparsity", fail)
    cached = synthetic.synthetic_profile(case, vector_size=16, m_tile=64, cache_dir=tmp_path)
    monkeypatch.undo()
    monkeypatch.setattr(synthetic, "CHUNK_SLOTS", 3)
    chunked = synthetic.synthetic_profile(case, vector_size=16, m_tile=64, cache_dir=None)
    for name in INPUTS:
        for a, b, c in zip(first.inputs[name], cached.inputs[name], chunked.inputs[name]):
            assert np.array_equal(a.unique, b.unique) and np.array_equal(a.unique, c.unique)
    other = synthetic.synthetic_profile(dataclasses.replace(case, threshold=0.8),
                                        vector_size=16, m_tile=64, cache_dir=tmp_path)
    assert len(list(tmp_path.rglob("*.npz"))) == 2 * len(INPUTS)
    assert other.inputs["q_proj"][0].unique_total < first.inputs["q_proj"][0].unique_total


# --------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------


def random_masks(case, vector_size, rng):
    masks = {}
    s, blocks = case.sequence, case.model.blocks
    for name in INPUTS:
        slots = -(-case.model.input_width(name) // vector_size)
        pruned = np.zeros((blocks, s), dtype=bool)
        pruned[1:] = rng.random((blocks - 1, s)) < 0.4
        similar = rng.random((blocks, s, slots)) < 0.5
        similar[:, 0] = False
        positions = np.broadcast_to(np.arange(s)[None, :, None], similar.shape)
        group = np.where(similar, 0, positions)
        group = np.where(pruned[:, :, None], -1, group)
        similar &= ~pruned[:, :, None]
        masks[name] = {"pruned": pruned, "similar": similar, "group": group}
    return masks


def test_trace_roundtrip_counts_the_masks(tmp_path, seed):
    case = small_case()
    rng = np.random.default_rng(seed)
    masks = random_masks(case, 16, rng)
    # group 0 must itself be retained and unmerged for a valid trace
    for fields in masks.values():
        fields["pruned"][:, 0] = False
        fields["group"][:, 0] = 0
    path = tmp_path / "trace.npz"
    save_trace(path, masks)
    profile = load_any(path, case, vector_size=16, m_tile=32)
    profile.validate(case)
    for name in INPUTS:
        for block in range(MODEL.blocks):
            retained = np.flatnonzero(~masks[name]["pruned"][block])
            similar = masks[name]["similar"][block][retained]
            item = profile.inputs[name][block]
            assert item.tokens == retained.size
            assert item.unique_total == int(np.count_nonzero(~similar))
            assert item.tile_tokens.tolist() == [min(32, retained.size - i)
                                                 for i in range(0, retained.size, 32)]


def test_bad_traces_name_the_problem(tmp_path, seed):
    case = small_case()
    masks = random_masks(case, 16, np.random.default_rng(seed))
    path = tmp_path / "trace.npz"
    wrong = {name: dict(fields) for name, fields in masks.items()}
    wrong["down_proj"]["similar"] = wrong["down_proj"]["similar"][:, :, :3]
    save_trace(path, wrong)
    with pytest.raises(ValueError, match=r"down_proj.similar has shape \(3, 336, 3\), the workload "
                                         r"needs \(3, 336, 16\)"):
        load_trace(path, case, vector_size=16, m_tile=32)
    missing = {name: fields for name, fields in masks.items() if name != "query"}
    save_trace(path, missing)
    with pytest.raises(ValueError, match="missing key query.pruned"):
        load_trace(path, case, vector_size=16, m_tile=32)
    inconsistent = {name: dict(fields) for name, fields in masks.items()}
    inconsistent["o_proj"]["group"] = np.zeros_like(masks["o_proj"]["group"])
    save_trace(path, inconsistent)
    with pytest.raises(ValueError, match="o_proj.group block 0"):
        load_trace(path, case, vector_size=16, m_tile=32)
    with pytest.raises(ValueError, match="needs torch|torch"):
        load_any(tmp_path / "authors.pth", case, vector_size=16, m_tile=32)
    with pytest.raises(ValueError, match="must be .npz"):
        load_any(tmp_path / "trace.csv", case, vector_size=16, m_tile=32)


# --------------------------------------------------------------------------------------
# Op density
# --------------------------------------------------------------------------------------


def test_density_profiles_reach_the_density_and_refuse_the_unreachable():
    case = CASES["llava-onevision/videomme"]
    profile = density_profile(case, 0.1851, vector_size=32, m_tile=1024)
    focus, dense = mac_counts(case, profile)
    assert focus / dense == pytest.approx(0.1851, abs=2e-4)
    assert [event.k for event in profile.sec] == [2508, 1881, 1254, 940, 627]
    with pytest.raises(ValueError, match=r"density 0.9 is not reachable.*must be in \["):
        density_profile(case, 0.9, vector_size=32, m_tile=1024)


@pytest.mark.slow
def test_one_llava_video_layer_equals_the_tensor_level_model():
    """Block 0's down_proj input of LLaVA-Video/VideoMME (11648 tokens x 18944 channels, SIC
    run in column chunks): the counts the model uses equal one similarity_concentration call
    per chunk of the tensor-level model on the same activations."""
    case = CASES["llava-video/videomme"]
    width = case.model.ffn
    positions = np.arange(case.sequence)
    task = synthetic.InputTask(case.geometry, case.video_seed, synthetic.projection_seed(0, "down_proj"),
                               width, positions, 32, 1024, case.threshold, case.window)
    item = synthetic.input_sparsity(task)
    tokens = video_tokens(case.geometry, width, seed=case.video_seed,
                          projection_seed=synthetic.projection_seed(0, "down_proj"))
    unique = []
    for start in range(0, width, 4736):       # slots are independent: another chunking
        result = similarity_concentration(tokens[:, start:start + 4736], vector_size=32,
                                          m_tile=1024, threshold=case.threshold,
                                          **case.geometry.strides)
        unique.append(count_tiles(result.similar, result.zero, 1024).unique)
    assert np.array_equal(item.unique, np.concatenate(unique, axis=1))
