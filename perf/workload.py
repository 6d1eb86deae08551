"""The workload: the LLM prefill of a video VLM's language backbone (spec system.md 1).

A :class:`ModelShape` gives the backbone (blocks, hidden size, heads, FFN size); its
:meth:`~ModelShape.gemms` lists the GEMMs of one block in execution order, each naming the
GEMM input whose sparsity it uses (k and v reuse q's input, up reuses gate's, attention uses
the query). A :class:`Case` adds the token geometry (frames x tokens per frame, frame and row
strides), the video seed of the synthetic activations and the published SEC/SIC settings.
:data:`CASES` holds the nine published cases; :func:`load_cases` reads more from a TOML or
JSON file and :func:`custom_case` builds one from command-line values.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from golden.workloads import Geometry, Segment

__all__ = [
    "INPUTS",
    "ModelShape",
    "Gemm",
    "Case",
    "QWEN2_7B",
    "CASES",
    "get_case",
    "select_cases",
    "load_cases",
    "custom_case",
]

#: GEMM inputs that carry their own sparsity (the authors' trace names).  ``q_proj`` is the
#: input of q/k/v, ``o_proj`` of o, ``gate_proj`` of gate/up, ``down_proj`` of down,
#: ``query`` the query of attention (its K and V are only pruned, never merged).
INPUTS = ("q_proj", "query", "o_proj", "gate_proj", "down_proj")

#: Inputs that see the tokens retained *after* the block's SEC stage (the authors prune
#: after the attention's residual add, so a SEC layer's own FFN is already pruned).
POST_SEC_INPUTS = ("gate_proj", "down_proj")


def _positive(name: str, value, owner: str = "") -> int:
    """``value`` as an int >= 1, or a ValueError naming the parameter."""
    where = f"{owner}: " if owner else ""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}{name} must be an integer >= 1, got {value!r}")
    return value


@dataclass(frozen=True)
class Gemm:
    """One GEMM of a block.

    Attributes
    ----------
    name : str
        ``q``, ``k``, ``v``, ``o``, ``gate``, ``up``, ``down`` or ``attn``.
    kind : str
        ``"linear"`` (S x K times K x N) or ``"attention"`` (causal QK^T and SV per head).
    in_features, out_features : int
        K and N of a linear layer (0 for attention).
    input : str
        The entry of :data:`INPUTS` whose masks the GEMM uses.
    """

    name: str
    kind: str
    in_features: int
    out_features: int
    input: str


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only backbone with grouped K/V projections and a gated FFN.

    Attributes
    ----------
    name : str
    blocks : int
        Decoder blocks.
    hidden : int
        Hidden size d (q and o are d x d).
    heads : int
        Query heads; head dimension = hidden / heads.
    kv_dim : int
        Output width of the k and v projections (grouped K/V).
    ffn : int
        FFN width (gate and up are d x ffn, down ffn x d).
    """

    name: str
    blocks: int
    hidden: int
    heads: int
    kv_dim: int
    ffn: int

    def __post_init__(self):
        for field in ("blocks", "hidden", "heads", "kv_dim", "ffn"):
            _positive(field, getattr(self, field), f"model {self.name}")
        if self.hidden % self.heads:
            raise ValueError(f"model {self.name}: hidden ({self.hidden}) must be a multiple "
                             f"of heads ({self.heads})")

    @property
    def head_dim(self) -> int:
        """Channels per attention head."""
        return self.hidden // self.heads

    def gemms(self) -> tuple[Gemm, ...]:
        """The GEMMs of one block, in execution order."""
        d, f, kv = self.hidden, self.ffn, self.kv_dim
        return (
            Gemm("q", "linear", d, d, "q_proj"),
            Gemm("k", "linear", d, kv, "q_proj"),
            Gemm("v", "linear", d, kv, "q_proj"),
            Gemm("attn", "attention", 0, 0, "query"),
            Gemm("o", "linear", d, d, "o_proj"),
            Gemm("gate", "linear", d, f, "gate_proj"),
            Gemm("up", "linear", d, f, "gate_proj"),
            Gemm("down", "linear", f, d, "down_proj"),
        )

    def input_width(self, name: str) -> int:
        """Channels of GEMM input ``name`` (one of :data:`INPUTS`)."""
        widths = {"q_proj": self.hidden, "query": self.hidden, "o_proj": self.hidden,
                  "gate_proj": self.hidden, "down_proj": self.ffn}
        if name not in widths:
            raise ValueError(f"unknown GEMM input {name!r}; known: {', '.join(INPUTS)}")
        return widths[name]


#: The Qwen2-7B backbone of all three published VLMs (spec system.md 1).
QWEN2_7B = ModelShape("qwen2-7b", blocks=28, hidden=3584, heads=28, kv_dim=512, ffn=18944)


@dataclass(frozen=True)
class Case:
    """One evaluated workload: a model, a video geometry and the Focus settings.

    Attributes
    ----------
    name : str
        Identifier, e.g. ``llava-video/videomme``.
    model : ModelShape
    geometry : golden.workloads.Geometry
        Token grid: ``frames x frame_stride`` image tokens, strides FS and HS.
    video_seed : int
        Seed of the synthetic video (:func:`golden.workloads.video_tokens`).
    sec_layers, sec_ratios : tuple
        SEC schedule: blocks at which SEC runs and the retention ratio of each stage
        (a fraction of the original image tokens).
    threshold : float
        SIC cosine threshold theta.
    window : tuple of 3 int
        SIC window (bf, bh, bw).
    text_tokens : int
        Text (question) rows the SEC importance analysis reads per head.
    """

    name: str
    model: ModelShape
    geometry: Geometry
    video_seed: int = 0
    sec_layers: tuple[int, ...] = ()
    sec_ratios: tuple[float, ...] = ()
    threshold: float = 0.9
    window: tuple[int, int, int] = (2, 2, 2)
    text_tokens: int = 100

    def __post_init__(self):
        if len(self.sec_layers) != len(self.sec_ratios):
            raise ValueError(f"case {self.name}: sec_layers ({len(self.sec_layers)}) and "
                             f"sec_ratios ({len(self.sec_ratios)}) must have the same length")
        for layer in self.sec_layers:
            if isinstance(layer, bool) or not isinstance(layer, int) \
                    or not 0 <= layer < self.model.blocks:
                raise ValueError(f"case {self.name}: SEC layer must be an integer in "
                                 f"[0, {self.model.blocks - 1}], got {layer!r}")
        if list(self.sec_layers) != sorted(set(self.sec_layers)):
            raise ValueError(f"case {self.name}: sec_layers must be strictly ascending, "
                             f"got {list(self.sec_layers)}")
        for ratio in self.sec_ratios:
            if not (isinstance(ratio, (int, float)) and math.isfinite(ratio) and 0 < ratio <= 1):
                raise ValueError(f"case {self.name}: SEC ratios must be in (0, 1], got {ratio!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"case {self.name}: threshold must be in [0, 1], "
                             f"got {self.threshold!r}")
        if len(self.window) != 3 or min(self.window) < 1:
            raise ValueError(f"case {self.name}: window must be three sizes >= 1, "
                             f"got {self.window!r}")
        _positive("text_tokens", self.text_tokens, f"case {self.name}")

    @property
    def sequence(self) -> int:
        """S: image tokens of the prefill (frames x tokens per frame)."""
        return self.geometry.n_tokens

    @property
    def model_label(self) -> str:
        """The part of :attr:`name` before the slash."""
        return self.name.split("/")[0]

    def to_dict(self) -> dict:
        """Plain data (for reports and cache keys)."""
        geometry = self.geometry
        return {
            "name": self.name,
            "model": dataclasses.asdict(self.model),
            "geometry": {"name": geometry.name, "frames": geometry.frames, "rows": geometry.rows,
                         "cols": geometry.cols, "frame_stride": geometry.frame_stride,
                         "row_stride": geometry.row_stride,
                         "segments": [[s.start, list(s.crop)] for s in geometry.segments]},
            "video_seed": self.video_seed,
            "sec_layers": list(self.sec_layers),
            "sec_ratios": list(self.sec_ratios),
            "threshold": self.threshold,
            "window": list(self.window),
            "text_tokens": self.text_tokens,
        }


# --------------------------------------------------------------------------------------
# The nine published cases (spec system.md 1; SEC/SIC settings from the authors' per-case
# configuration table: MiniCPM-V VideoMME/MLVU use theta 0.95, LLaVA-OneVision MVBench the
# ratios 0.4, 0.3, 0.25, 0.2, 0.1).
# --------------------------------------------------------------------------------------

_LLAVA_VIDEO_SEC = (3, 6, 9, 18, 26)
_OTHER_SEC = (2, 5, 8, 16, 25)
_RATIOS = (0.40, 0.30, 0.20, 0.15, 0.10)

#: Video seed of the synthetic activations per dataset (three different videos).
DATASET_SEEDS = {"videomme": 0, "mlvu": 1, "mvbench": 2}

_MINICPM_SEGMENTS = (Segment(1), Segment(67, (0.0, 0.0, 1.0, 0.5)),
                     Segment(133, (0.0, 0.5, 1.0, 1.0)))


def _published_cases() -> dict[str, Case]:
    geometries = {
        "llava-video": Geometry("llava-video", 64, 13, 14, 182, 14),
        "llava-video-13": Geometry("llava-video-13f", 13, 13, 14, 182, 14),
        "llava-onevision": Geometry("llava-onevision", 32, 14, 14, 196, 14),
        "minicpm-v": Geometry("minicpm-v", 64, 8, 8, 199, 8, _MINICPM_SEGMENTS),
        # 6 frames x 67 tokens: <image> 64 </image> and a newline, one 8 x 8 grid.
        "minicpm-v-6": Geometry("minicpm-v-6f", 6, 8, 8, 67, 8, (Segment(1),)),
    }
    table = [
        ("llava-video", "videomme", "llava-video", _LLAVA_VIDEO_SEC, _RATIOS, 0.9),
        ("llava-video", "mlvu", "llava-video", _LLAVA_VIDEO_SEC, _RATIOS, 0.9),
        ("llava-video", "mvbench", "llava-video-13", _LLAVA_VIDEO_SEC, _RATIOS, 0.9),
        ("llava-onevision", "videomme", "llava-onevision", _OTHER_SEC, _RATIOS, 0.9),
        ("llava-onevision", "mlvu", "llava-onevision", _OTHER_SEC, _RATIOS, 0.9),
        ("llava-onevision", "mvbench", "llava-onevision", _OTHER_SEC,
         (0.40, 0.30, 0.25, 0.20, 0.10), 0.9),
        ("minicpm-v", "videomme", "minicpm-v", _OTHER_SEC, _RATIOS, 0.95),
        ("minicpm-v", "mlvu", "minicpm-v", _OTHER_SEC, _RATIOS, 0.95),
        ("minicpm-v", "mvbench", "minicpm-v-6", _OTHER_SEC, _RATIOS, 0.9),
    ]
    cases = {}
    for model, dataset, geometry, layers, ratios, theta in table:
        name = f"{model}/{dataset}"
        cases[name] = Case(name, QWEN2_7B, geometries[geometry], DATASET_SEEDS[dataset],
                           layers, ratios, theta)
    return cases


#: The nine published cases, in the order of the publication's result table.
CASES: dict[str, Case] = _published_cases()


def get_case(name: str, cases: dict[str, Case] | None = None) -> Case:
    """The case called ``name``; the error lists the known names."""
    known = CASES if cases is None else cases
    try:
        return known[name]
    except KeyError:
        raise ValueError(f"unknown case {name!r}; known cases: {', '.join(known)}") from None


def select_cases(names, cases: dict[str, Case] | None = None) -> list[Case]:
    """Cases by name (``all`` or none given: every case)."""
    known = CASES if cases is None else cases
    if not names or list(names) == ["all"]:
        return list(known.values())
    return [get_case(name, known) for name in names]


# --------------------------------------------------------------------------------------
# Cases from a file or the command line
# --------------------------------------------------------------------------------------


def _read_mapping(path: Path) -> dict:
    """Parse a TOML or JSON file (by extension) into a dict."""
    text = path.read_text()
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON: {error}") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            raise ValueError(f"{path}: reading TOML needs Python >= 3.11; use JSON") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from None
    raise ValueError(f"{path}: workload files must end in .toml or .json")


_MODEL_KEYS = {"name", "blocks", "hidden", "heads", "kv_dim", "ffn"}
_CASE_KEYS = {"name", "model", "frames", "rows", "cols", "frame_stride", "row_stride",
              "video_seed", "sec_layers", "sec_ratios", "threshold", "window", "text_tokens"}


def _model_from(data: dict, where: str) -> ModelShape:
    unknown = set(data) - _MODEL_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown model key(s) {sorted(unknown)}; "
                         f"known: {sorted(_MODEL_KEYS)}")
    values = {**dataclasses.asdict(QWEN2_7B), **data}
    return ModelShape(**values)


def custom_case(name: str, *, frames: int, rows: int, cols: int, frame_stride: int | None = None,
                row_stride: int | None = None, model: ModelShape = QWEN2_7B, video_seed: int = 0,
                sec_layers=(), sec_ratios=(), threshold: float = 0.9, window=(2, 2, 2),
                text_tokens: int = 100) -> Case:
    """A case from explicit geometry values (one image grid per frame).

    ``row_stride`` defaults to ``cols`` and ``frame_stride`` to ``rows * row_stride``.
    """
    for field, value in (("frames", frames), ("rows", rows), ("cols", cols)):
        _positive(field, value, f"case {name}")
    row_stride = cols if row_stride is None else row_stride
    frame_stride = rows * row_stride if frame_stride is None else frame_stride
    geometry = Geometry(name, frames, rows, cols, frame_stride, row_stride)
    return Case(name, model, geometry, video_seed, tuple(sec_layers), tuple(sec_ratios),
                float(threshold), tuple(window), text_tokens)


def load_cases(path) -> dict[str, Case]:
    """Cases from a TOML or JSON workload file.

    Layout (TOML shown; JSON has the same keys)::

        [model]                 # optional, default Qwen2-7B; any subset of its keys
        blocks = 4
        [[case]]
        name = "my-video"
        frames = 8
        rows = 6
        cols = 7
        frame_stride = 42        # optional (rows * row_stride)
        row_stride = 7           # optional (cols)
        sec_layers = [1, 2]      # optional (no SEC)
        sec_ratios = [0.5, 0.25]
        threshold = 0.9          # optional
        window = [2, 2, 2]       # optional
        video_seed = 0           # optional
        text_tokens = 100        # optional

    A case may carry its own ``[case.model]`` table.
    """
    path = Path(path)
    data = _read_mapping(path)
    unknown = set(data) - {"model", "case"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level key(s) {sorted(unknown)}; "
                         "expected 'model' and 'case'")
    default_model = _model_from(data.get("model", {}), f"{path} [model]")
    entries = data.get("case")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: needs at least one [[case]] entry")
    cases = {}
    for index, entry in enumerate(entries):
        where = f"{path} case {index}"
        unknown = set(entry) - _CASE_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_CASE_KEYS)}")
        missing = {"name", "frames", "rows", "cols"} - set(entry)
        if missing:
            raise ValueError(f"{where}: missing key(s) {sorted(missing)}")
        values = dict(entry)
        model = _model_from(values.pop("model"), where) if "model" in values else default_model
        name = values.pop("name")
        if name in cases:
            raise ValueError(f"{where}: duplicate case name {name!r}")
        cases[name] = custom_case(name, model=model, **values)
    return cases
