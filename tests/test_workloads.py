"""Tests of the realistic workload generators (golden/workloads.py)."""

import numpy as np
import pytest

from golden.algorithm import select_tokens, similarity_concentration, token_importance
from golden.workloads import (
    GEOMETRIES,
    PHOTOS,
    Geometry,
    Segment,
    attention_probs,
    load_photo,
    video_tokens,
)

pytestmark = pytest.mark.golden


def sparsity(tokens, geometry):
    return similarity_concentration(tokens, **geometry.strides).sparsity


@pytest.mark.parametrize(
    "name, frames, rows, cols, fs, hs, tokens",
    [
        ("llava-video", 64, 13, 14, 182, 14, 11648),
        ("llava-onevision", 32, 14, 14, 196, 14, 6272),
        ("minicpm-v", 64, 8, 8, 199, 8, 12736),
    ],
)
def test_published_geometries(name, frames, rows, cols, fs, hs, tokens):
    geometry = GEOMETRIES[name]
    assert (geometry.frames, geometry.rows, geometry.cols) == (frames, rows, cols)
    assert geometry.strides == {"frame_stride": fs, "row_stride": hs}
    assert geometry.n_tokens == tokens
    assert name in geometry.describe()


def test_minicpm_frame_layout_has_three_grids_and_seven_separators():
    geometry = GEOMETRIES["minicpm-v"]
    assert len(geometry.segments) == 3
    assert geometry.separator_offsets().tolist() == [0, 65, 66, 131, 132, 197, 198]
    assert GEOMETRIES["llava-video"].separator_offsets().size == 0


@pytest.mark.parametrize(
    "arguments",
    [
        ("bad", 2, 2, 5, 8, 4),  # cols > row stride
        ("bad", 2, 3, 4, 10, 4),  # grid does not fit the frame stride
        ("bad", 2, 1, 2, 4, 2, (Segment(0), Segment(1))),  # overlapping grids
        ("bad", 0, 1, 1, 1, 1),
    ],
)
def test_inconsistent_geometries_are_rejected(arguments):
    with pytest.raises(ValueError):
        Geometry(*arguments)


@pytest.mark.parametrize("name", PHOTOS)
def test_bundled_photos_load_offline(name):
    photo = load_photo(name)
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.float32
    assert 0.0 <= photo.min() and photo.max() <= 1.0 and photo.std() > 0.05


def test_unknown_photo():
    with pytest.raises(ValueError, match="unknown photo"):
        load_photo("no_such_photo")


def test_video_tokens_shape_dtype_determinism():
    tokens = video_tokens("small", 96, seed=3)
    assert tokens.shape == (GEOMETRIES["small"].n_tokens, 96) and tokens.dtype == np.float32
    assert np.all(np.isfinite(tokens)) and np.all(np.isfinite(tokens.astype(np.float16)))
    np.testing.assert_array_equal(tokens, video_tokens(GEOMETRIES["small"], 96, seed=3))
    assert not np.array_equal(tokens, video_tokens("small", 96, seed=4))


def test_video_tokens_are_normalised_like_activations():
    tokens = video_tokens("small", 256).astype(np.float64)
    rms = np.sqrt(np.mean(tokens**2, axis=1))
    assert np.all((rms > 0.7) & (rms < 1.5))  # RMS norm times per-channel gains
    assert abs(tokens.mean()) < 0.5


def test_separator_tokens_repeat_in_every_frame():
    geometry = GEOMETRIES["small-sliced"]
    tokens = video_tokens(geometry, 64, seed=1).reshape(geometry.frames, geometry.frame_stride, 64)
    separators = geometry.separator_offsets()
    assert separators.size == geometry.frame_stride - 2 * geometry.rows * geometry.cols
    np.testing.assert_array_equal(tokens[:, separators], np.broadcast_to(tokens[0, separators], tokens[:, separators].shape))
    assert not np.array_equal(tokens[0, 1], tokens[1, 1])  # image tokens change with the camera


def test_realistic_tokens_merge_and_noise_does_not():
    geometry = GEOMETRIES["small"]
    static = sparsity(video_tokens(geometry, 128, motion=0.0, noise=0.0), geometry)
    slow = sparsity(video_tokens(geometry, 128, motion=0.1), geometry)
    fast = sparsity(video_tokens(geometry, 128, motion=3.0), geometry)
    noise = sparsity(np.random.default_rng(0).standard_normal((geometry.n_tokens, 128)), geometry)
    # a static camera repeats every frame: all but the first frame merge
    assert static >= (geometry.frames - 1) / geometry.frames
    assert static > slow > fast > 0.2
    assert noise < 0.01


def test_video_tokens_arguments():
    with pytest.raises(ValueError):
        video_tokens("tiny", 0)
    with pytest.raises(ValueError):
        video_tokens("tiny", 8, shot_frames=0)
    with pytest.raises(ValueError):
        video_tokens("tiny", 8, photos=())
    with pytest.raises(KeyError):
        video_tokens("no-such-geometry", 8)
    calls = []
    video_tokens("tiny", 8, photos=["camera"], zoom=0.05, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3)


def test_attention_probs_shape_and_mass():
    tokens = video_tokens("tiny", 32)
    probs = attention_probs(tokens, heads=3, text_rows=5, text_mass=0.25, seed=1)
    assert probs.shape == (3, 5, tokens.shape[0]) and probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=-1), 0.75, rtol=1e-5)
    np.testing.assert_array_equal(probs, attention_probs(tokens, heads=3, text_rows=5, text_mass=0.25, seed=1))


def test_attention_concentration_controls_peakiness():
    uniform = attention_probs(200, concentration=0.0)
    np.testing.assert_allclose(uniform, 0.5 / 200, rtol=1e-5)
    peaks = [token_importance(attention_probs(200, concentration=c)).max() for c in (0.5, 2.0, 6.0)]
    assert peaks[0] < peaks[1] < peaks[2]


def test_attention_drives_sec_selection():
    tokens = video_tokens("small", 64)
    importance = token_importance(attention_probs(tokens, concentration=4.0))
    kept = select_tokens(importance, 40)
    assert kept.size == 40 and np.all(np.diff(kept) > 0)
    assert importance[kept].min() >= np.delete(importance, kept).max()


def test_attention_arguments():
    with pytest.raises(ValueError):
        attention_probs(10, concentration=-1)
    with pytest.raises(ValueError):
        attention_probs(10, text_mass=1.0)
    with pytest.raises(ValueError):
        attention_probs(0)
    with pytest.raises(ValueError):
        attention_probs(np.zeros(5))
