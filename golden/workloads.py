"""Realistic Focus workloads without model weights.

Video-like token tensors are rendered from real photographs shipped inside the
scikit-image wheel (no download at run time): a virtual camera pans (and optionally
zooms) across a photograph, every frame is cut into the token grid of a published
model, each patch's pixels are embedded to D channels by a fixed, seeded random
two-layer projection and normalised like transformer activations (RMS norm, a shared
"anisotropy" direction, per-channel gains).  Attention-probability tensors for SEC
are produced by seeded queries attending to keys projected from those tokens, with
a controllable concentration.

Public API
----------
:class:`Geometry`, :data:`GEOMETRIES`, :data:`PHOTOS`, :func:`load_photo`,
:func:`video_tokens`, :func:`attention_probs`.

Plain random noise is not a realistic workload: neighbouring noise vectors are almost
orthogonal, so SIC never merges them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = [
    "Segment",
    "Geometry",
    "GEOMETRIES",
    "PHOTOS",
    "load_photo",
    "video_tokens",
    "attention_probs",
]

#: Photographs bundled in the scikit-image wheel (usable offline), in shot order.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "hubble_deep_field", "retina")

_FULL_FRAME = (0.0, 0.0, 1.0, 1.0)
_PROJECTION_SEED = 20251214
_HIDDEN = 256
_SAMPLES = 4  # pixel samples per patch side (feature = 4 x 4 x RGB = 48 values)
_SUPERSAMPLE = 2  # anti-aliasing: sub-samples per sample side
_FEATURES = 3 + _SAMPLES * _SAMPLES * 3  # mean colour + texture
_COLOUR_SCALE = 4.0
_TEXTURE_SCALE = 6.0
_FEATURE_GAIN = 2.0


@dataclass(frozen=True)
class Segment:
    """One image grid inside a frame's token span.

    Attributes
    ----------
    start : int
        Offset of the grid's first token within the frame (in tokens).
    crop : tuple of 4 float
        ``(top, left, bottom, right)`` of the region this grid shows, as fractions
        of the camera view.
    """

    start: int
    crop: tuple[float, float, float, float] = _FULL_FRAME


@dataclass(frozen=True)
class Geometry:
    """Token geometry of a video VLM: position ``s = f*FS + r*HS + c``.

    Each frame owns ``frame_stride`` consecutive positions.  Every :class:`Segment`
    places a ``rows x cols`` image grid (row stride ``row_stride``) in it; positions
    not covered by a segment are separator tokens (identical in every frame, like the
    special tokens MiniCPM-V puts between its image slices).

    Attributes
    ----------
    name : str
    frames, rows, cols : int
    frame_stride, row_stride : int
    segments : tuple of Segment
        Default: one full-frame grid starting at offset 0.
    """

    name: str
    frames: int
    rows: int
    cols: int
    frame_stride: int
    row_stride: int
    segments: tuple[Segment, ...] = (Segment(0),)

    def __post_init__(self):
        for field in ("frames", "rows", "cols", "frame_stride", "row_stride"):
            if int(getattr(self, field)) < 1:
                raise ValueError(f"{self.name}: {field} must be >= 1")
        if self.cols > self.row_stride:
            raise ValueError(f"{self.name}: cols ({self.cols}) exceed the row stride")
        covered = np.zeros(self.frame_stride, dtype=int)
        for segment in self.segments:
            end = segment.start + (self.rows - 1) * self.row_stride + self.cols
            if segment.start < 0 or end > self.frame_stride:
                raise ValueError(f"{self.name}: a segment does not fit in the frame stride")
            covered[segment.start + self.grid_offsets()] += 1
        if covered.max(initial=0) > 1:
            raise ValueError(f"{self.name}: segments overlap")

    @property
    def n_tokens(self) -> int:
        """Tokens of the whole image span: ``frames * frame_stride``."""
        return self.frames * self.frame_stride

    @property
    def strides(self) -> dict[str, int]:
        """``frame_stride`` and ``row_stride`` as keyword arguments for SIC."""
        return {"frame_stride": self.frame_stride, "row_stride": self.row_stride}

    def grid_offsets(self) -> np.ndarray:
        """Offsets of one grid's tokens relative to its segment start (row-major)."""
        rows, cols = np.indices((self.rows, self.cols))
        return (rows * self.row_stride + cols).ravel()

    def separator_offsets(self) -> np.ndarray:
        """In-frame offsets not covered by any segment."""
        covered = np.zeros(self.frame_stride, dtype=bool)
        for segment in self.segments:
            covered[segment.start + self.grid_offsets()] = True
        return np.flatnonzero(~covered)

    def describe(self) -> str:
        """One-line human description."""
        grids = f"{len(self.segments)} x " if len(self.segments) > 1 else ""
        return (
            f"{self.name}: {self.frames} frames x {grids}{self.rows} x {self.cols} tokens, "
            f"FS {self.frame_stride}, HS {self.row_stride}, S = {self.n_tokens}"
        )


def _minicpm_segments() -> tuple[Segment, ...]:
    """MiniCPM-V frame: <image> 64 </image> <slice> 64 </slice> <slice> 64 </slice> \\n."""
    return (
        Segment(1, _FULL_FRAME),
        Segment(67, (0.0, 0.0, 1.0, 0.5)),
        Segment(133, (0.0, 0.5, 1.0, 1.0)),
    )


#: Named geometries: the published models plus small ones for tests.
GEOMETRIES = {
    "llava-video": Geometry("llava-video", 64, 13, 14, 182, 14),
    "llava-onevision": Geometry("llava-onevision", 32, 14, 14, 196, 14),
    "minicpm-v": Geometry("minicpm-v", 64, 8, 8, 199, 8, _minicpm_segments()),
    "tiny": Geometry("tiny", 3, 3, 4, 12, 4),
    "small": Geometry("small", 8, 6, 7, 42, 7),
    "small-sliced": Geometry(
        "small-sliced", 6, 3, 3, 21, 3, (Segment(1), Segment(11, (0.0, 0.0, 1.0, 0.5)))
    ),
}


@functools.lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """A photograph shipped with scikit-image, as float32 RGB in [0, 1].

    Parameters
    ----------
    name : str
        One of :data:`PHOTOS` (any scikit-image sample that ships in its wheel).

    Returns
    -------
    numpy.ndarray, float32, shape (height, width, 3)
        Read-only (cached).
    """
    import skimage.data  # imported lazily: only workloads need scikit-image

    loader = getattr(skimage.data, name, None)
    if loader is None or name.startswith("_"):
        raise ValueError(f"unknown photo {name!r}; choose from {', '.join(PHOTOS)}")
    image = np.asarray(loader(), dtype=np.float32) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3])
    image.setflags(write=False)
    return image


# --------------------------------------------------------------------------------------
# Rendering: camera path and patch sampling
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shot:
    """Camera path of one shot over one photograph (all lengths in photo pixels)."""

    photo: np.ndarray
    center: np.ndarray  # (2,) y, x at the shot's first frame
    velocity: np.ndarray  # (2,) pixels per frame
    height: float  # view height at the first frame
    aspect: float  # view width / height
    zoom: float  # relative view-size change per frame

    def view(self, step: int) -> tuple[float, float, float, float]:
        """(top, left, height, width) of the view ``step`` frames into the shot."""
        height = self.height * (1.0 + self.zoom) ** step
        width = height * self.aspect
        limits = np.array(self.photo.shape[:2], dtype=float) - (height, width)
        corner = _bounce(self.center + step * self.velocity - (height / 2, width / 2), limits)
        return float(corner[0]), float(corner[1]), height, width


def _bounce(position: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Reflect a position into ``[0, limits]`` (the camera bounces off the photo edges)."""
    limits = np.maximum(limits, 1e-9)
    folded = np.mod(position, 2 * limits)
    return np.where(folded > limits, 2 * limits - folded, folded)


def _plan_shot(photo: np.ndarray, geometry: Geometry, rng, *, motion, zoom, view_fraction) -> _Shot:
    """Random start and pan direction; ``motion`` is in patches per frame."""
    aspect = geometry.cols / geometry.rows
    photo_h, photo_w = photo.shape[:2]
    height = view_fraction * min(photo_h, photo_w / aspect)
    angle = rng.uniform(0.0, 2 * math.pi)
    speed = motion * height / geometry.rows
    center = rng.uniform((height / 2, height * aspect / 2), (photo_h - height / 2, photo_w - height * aspect / 2))
    velocity = speed * np.array([math.sin(angle), math.cos(angle)])
    return _Shot(photo, center, velocity, height, aspect, zoom)


def _bilinear_grid(photo: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample ``photo`` at the outer product of pixel coordinates ``ys x xs``."""

    def taps(coords, size):
        """Lower neighbour, upper neighbour and weight of the upper one (edges clamped)."""
        coords = np.clip(coords - 0.5, 0.0, size - 1.0)
        low = np.clip(np.floor(coords).astype(np.int64), 0, max(size - 2, 0))
        return low, np.minimum(low + 1, size - 1), (coords - low).astype(np.float32)

    y0, y1, wy = taps(ys, photo.shape[0])
    x0, x1, wx = taps(xs, photo.shape[1])
    rows = photo[y0] * (1 - wy)[:, None, None] + photo[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def _patch_pixels(photo, view, crop, rows: int, cols: int) -> np.ndarray:
    """Anti-aliased pixel samples of a rows x cols patch grid over a crop of the view.

    Returns
    -------
    numpy.ndarray, float32, shape (rows * cols, _SAMPLES * _SAMPLES * 3)
    """
    top, left, height, width = view
    c_top, c_left, c_bottom, c_right = crop
    per_row = _SAMPLES * _SUPERSAMPLE
    ys = top + height * (c_top + (c_bottom - c_top) * (np.arange(rows * per_row) + 0.5) / (rows * per_row))
    xs = left + width * (c_left + (c_right - c_left) * (np.arange(cols * per_row) + 0.5) / (cols * per_row))
    image = _bilinear_grid(photo, ys, xs)
    image = image.reshape(rows, _SAMPLES, _SUPERSAMPLE, cols, _SAMPLES, _SUPERSAMPLE, 3).mean(axis=(2, 5))
    return image.transpose(0, 2, 1, 3, 4).reshape(rows * cols, -1)


# --------------------------------------------------------------------------------------
# Embedding: fixed seeded projection, transformer-like normalisation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Embedding:
    """Fixed random patch -> D-channel embedding shared by every video."""

    first: np.ndarray  # (features, hidden)
    bias: np.ndarray  # (hidden,)
    second: np.ndarray  # (hidden, dim)
    shared: np.ndarray  # (dim,) common direction of all tokens, unit RMS
    gain: np.ndarray  # (dim,) per-channel norm weight

    @classmethod
    def create(cls, features: int, dim: int, seed: int) -> "_Embedding":
        rng = np.random.default_rng(seed)
        return cls(
            first=(rng.standard_normal((features, _HIDDEN)) / math.sqrt(features)).astype(np.float32),
            bias=(0.5 * rng.standard_normal(_HIDDEN)).astype(np.float32),
            second=(rng.standard_normal((_HIDDEN, dim)) / math.sqrt(_HIDDEN)).astype(np.float32),
            shared=rng.standard_normal(dim).astype(np.float32),
            gain=np.exp(0.25 * rng.standard_normal(dim)).astype(np.float32),
        )

    def patches(self, pixels: np.ndarray, out: np.ndarray) -> None:
        """Raw (un-normalised) embedding of patch pixels in [0, 1], written to ``out``.

        Features are the patch's mean colour and its texture (pixels minus that
        mean); a random tanh layer followed by a random linear layer maps them to D
        channels, so similar patches get similar embeddings and different patches
        quickly decorrelate (the random-feature kernel is local).
        """
        samples = pixels.reshape(pixels.shape[0], -1, 3)
        colour = samples.mean(axis=1, keepdims=True)
        texture = (samples - colour).reshape(pixels.shape[0], -1)
        features = np.concatenate([(colour[:, 0] - 0.5) * _COLOUR_SCALE, texture * _TEXTURE_SCALE], axis=1)
        hidden = np.tanh(_FEATURE_GAIN * (features @ self.first) + self.bias)
        np.matmul(hidden, self.second, out=out)

    def normalise(self, raw: np.ndarray, anisotropy: float, out: np.ndarray) -> None:
        """RMS-normalise, add the shared direction, RMS-normalise again, apply gains.

        ``raw`` is overwritten; the result goes to ``out`` (float32).
        """
        _rms_normalise(raw)
        raw += np.float32(anisotropy) * self.shared
        _rms_normalise(raw)
        np.multiply(raw, self.gain, out=out)


def _rms_normalise(values: np.ndarray) -> None:
    """Scale every row of ``values`` in place to unit root-mean-square."""
    mean_square = np.einsum("ij,ij->i", values, values) / values.shape[1]
    values /= np.maximum(np.sqrt(mean_square), np.float32(1e-6))[:, None]


@functools.lru_cache(maxsize=8)
def _embedding(dim: int, seed: int) -> _Embedding:
    return _Embedding.create(_FEATURES, dim, seed)


class _FrameEncoder:
    """Renders and embeds one frame at a time into reused work buffers."""

    def __init__(self, geometry: Geometry, embedding: _Embedding, separators: np.ndarray):
        dim = embedding.second.shape[1]
        self.geometry = geometry
        self.embedding = embedding
        self.grid = geometry.grid_offsets()
        self.separator_offsets = geometry.separator_offsets()
        self.separators = separators
        self.raw = np.empty((geometry.frame_stride, dim), dtype=np.float32)
        self.patch_buffer = np.empty((self.grid.size, dim), dtype=np.float32)

    def encode(self, shot: _Shot, step: int, *, noise: float, anisotropy: float, rng, out: np.ndarray) -> None:
        """Write the frame ``step`` frames into ``shot`` to ``out`` (frame_stride, D)."""
        geometry = self.geometry
        self.raw[self.separator_offsets] = self.separators
        view = shot.view(step)
        for segment in geometry.segments:
            pixels = _patch_pixels(shot.photo, view, segment.crop, geometry.rows, geometry.cols)
            if noise:
                pixels += rng.normal(0.0, noise, pixels.shape).astype(np.float32)
            self.embedding.patches(pixels, out=self.patch_buffer)
            self.raw[segment.start + self.grid] = self.patch_buffer
        self.embedding.normalise(self.raw, anisotropy, out=out)


def video_tokens(
    geometry,
    dim: int,
    *,
    seed: int = 0,
    photos=None,
    motion: float = 0.25,
    zoom: float = 0.0,
    noise: float = 0.01,
    shot_frames: int = 16,
    view_fraction: float = 0.6,
    anisotropy: float = 0.3,
    projection_seed: int = _PROJECTION_SEED,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Video-like image tokens for a token geometry, rendered from real photographs.

    Parameters
    ----------
    geometry : Geometry or str
        A :class:`Geometry` or a key of :data:`GEOMETRIES`.
    dim : int
        D, channels per token (3584 for the Qwen2-7B models of the paper).
    seed : int, optional
        Video seed: photo order, camera start and direction, pixel noise.
    photos : sequence of str, optional
        Photographs to use, one per shot in turn; default :data:`PHOTOS`.
    motion : float, optional
        Camera pan speed in patches per frame (0 = static camera).
    zoom : float, optional
        Relative change of the view size per frame (0 = no zoom).
    noise : float, optional
        Standard deviation of per-frame pixel noise (pixels are in [0, 1]).
    shot_frames : int, optional
        Frames per shot; a new shot cuts to the next photograph.
    view_fraction : float, optional
        Camera view height as a fraction of the photo (0 < f <= 1).
    anisotropy : float, optional
        Weight of a direction shared by all tokens (transformer hidden states are
        anisotropic); 0 disables it.
    projection_seed : int, optional
        Seed of the fixed embedding (shared by all videos by default).
    progress : callable ``(done, total)``, optional
        Called after every frame.

    Returns
    -------
    numpy.ndarray, float32, shape (geometry.n_tokens, dim)
        Tokens in position order (the full image span, separators included).
    """
    geometry = GEOMETRIES[geometry] if isinstance(geometry, str) else geometry
    if int(dim) < 1:
        raise ValueError("dim must be >= 1")
    if int(shot_frames) < 1:
        raise ValueError("shot_frames must be >= 1")
    if not 0.0 < view_fraction <= 1.0:
        raise ValueError("view_fraction must be in (0, 1]")
    names = tuple(PHOTOS if photos is None else photos)
    if not names:
        raise ValueError("photos must name at least one photograph")
    embedding = _embedding(int(dim), int(projection_seed))
    rng = np.random.default_rng(seed)
    separator_rng = np.random.default_rng(int(projection_seed) + 1)
    separators = separator_rng.standard_normal((geometry.separator_offsets().size, int(dim))).astype(np.float32)
    encoder = _FrameEncoder(geometry, embedding, separators)
    first_photo = int(rng.integers(len(names)))
    tokens = np.empty((geometry.n_tokens, int(dim)), dtype=np.float32)
    shot = None
    for frame in range(geometry.frames):
        step = frame % int(shot_frames)
        if step == 0:
            photo = load_photo(names[(first_photo + frame // int(shot_frames)) % len(names)])
            shot = _plan_shot(photo, geometry, rng, motion=motion, zoom=zoom, view_fraction=view_fraction)
        span = slice(frame * geometry.frame_stride, (frame + 1) * geometry.frame_stride)
        encoder.encode(shot, step, noise=noise, anisotropy=anisotropy, rng=rng, out=tokens[span])
        if progress is not None:
            progress(frame + 1, geometry.frames)
    return tokens


def attention_probs(
    tokens,
    *,
    heads: int = 4,
    text_rows: int = 16,
    concentration: float = 4.0,
    text_mass: float = 0.5,
    head_dim: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """Post-softmax attention from text rows to image tokens, for SEC.

    Keys are seeded projections of the tokens (or i.i.d. Gaussian when only a token
    count is given); every text row's query is a shared question "topic" plus its own
    component.  Every row's query-key scores over the image tokens are standardised
    and scaled so that their standard deviation is ``concentration`` (in nats);
    each row's image probabilities sum to ``1 - text_mass`` (the rest is the
    attention that text, system and sink tokens receive).

    Parameters
    ----------
    tokens : array_like of shape (M, D), or int
        Image tokens (e.g. from :func:`video_tokens`) or just the count M.
    heads, text_rows, head_dim : int, optional
        Attention shape.
    concentration : float, optional
        Standard deviation of every row's image logits, in nats: 0 gives uniform
        attention, larger values concentrate the attention on fewer tokens.
    text_mass : float, optional
        Probability mass of every row that goes to non-image keys, in [0, 1).
    seed : int, optional
        Seed of the projections and queries.

    Returns
    -------
    numpy.ndarray, float32, shape (heads, text_rows, M)
    """
    if concentration < 0 or not 0.0 <= text_mass < 1.0:
        raise ValueError("concentration must be >= 0 and text_mass in [0, 1)")
    rng = np.random.default_rng(seed)
    keys = _attention_keys(tokens, heads, head_dim, rng)  # (heads, M, head_dim), unit RMS
    topic = rng.standard_normal((heads, 1, head_dim))
    queries = topic + 0.5 * rng.standard_normal((heads, text_rows, head_dim))
    queries /= np.sqrt(np.mean(queries**2, axis=-1, keepdims=True))
    scores = queries @ keys.transpose(0, 2, 1)
    scores -= scores.mean(axis=-1, keepdims=True)
    spread = scores.std(axis=-1, keepdims=True)
    logits = concentration * np.divide(scores, spread, out=np.zeros_like(scores), where=spread > 0)
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    weights *= (1.0 - text_mass) / weights.sum(axis=-1, keepdims=True)
    return weights.astype(np.float32)


def _attention_keys(tokens, heads: int, head_dim: int, rng) -> np.ndarray:
    """Unit-RMS keys per head: a seeded projection of the tokens, or Gaussian."""
    if np.ndim(tokens) == 0:
        count = int(tokens)
        if count < 1:
            raise ValueError("need at least one image token")
        keys = rng.standard_normal((heads, count, head_dim))
    else:
        values = np.asarray(tokens, dtype=np.float32)
        if values.ndim != 2 or values.shape[0] < 1:
            raise ValueError("tokens must have shape (M, D) with M >= 1")
        projection = rng.standard_normal((values.shape[1], heads * head_dim)).astype(np.float32)
        keys = (values @ projection).reshape(values.shape[0], heads, head_dim).transpose(1, 0, 2)
        keys = keys.astype(np.float64)
    return keys / np.maximum(np.sqrt(np.mean(keys**2, axis=-1, keepdims=True)), 1e-12)
