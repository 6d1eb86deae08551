"""Generator configurations: every elaboration-time parameter of the Focus hardware.

A :class:`FocusConfig` is frozen and validated at construction, so a configuration that
cannot work never reaches elaboration. Named configurations live in :data:`CONFIGS`; derive
new ones with :meth:`FocusConfig.replace` or from strings with :meth:`FocusConfig.with_overrides`.
"""

import dataclasses
import hashlib
import json

from rtl.arith.dot_product import fold_widths
from rtl.parameters import check_choice, check_int, check_window, divisors

from .formats import FORMATS, number_format

DTYPES = tuple(FORMATS)


@dataclasses.dataclass(frozen=True)
class FocusConfig:
    """Elaboration-time parameters (spec section 3.1).

    Attributes
    ----------
    dtype : str
        Operand format: ``"fp16"`` (fp32 accumulation) or ``"int8"`` (int32 accumulation).
    rows, cols : int
        Systolic array size; ``rows`` is the K-slice and the SIC vector size V.
    m_tile : int
        Tokens per output tile.
    window : tuple of 3 int
        SIC window (frames, rows, columns) = (bf, bh, bw).
    window_vectors : int
        Layouter capacity in vectors; must cover ``(bf-1)*FS + (bh-1)*HS + bw`` at run time.
    matchers : int
        Parallel similarity units; at most the number of candidates ``bf*bh*bw - 1``.
    scatter_lanes : int
        Output rows the scatter accumulator updates per cycle.
    sort_width : int
        Length of the top-k compare/swap chain (= importance analyzer lanes).
    max_tokens : int
        Importance buffer depth.
    offset_bits : int
        Width of one SEC offset code.
    mul_stages, add_stages : int or None
        Pipeline depth of the PE's multiplier and adder (and of every unit of the format);
        ``None`` is the format's default (fp16: 2 and 2; int8: 0 and 1, not adjustable).
    matcher_width : int or None
        Multipliers per SIC matcher: each dot product is folded over ``V / matcher_width``
        cycles (``V`` = ``rows`` for the standalone gather, ``cols`` for the engine's);
        ``None`` is ``V`` (not folded). A power of two dividing a power-of-two ``V``.
    collector_lanes : int or None
        Means the SIC collector computes per cycle (a divisor of ``V``; ``None``: ``V``).
    """

    dtype: str = "fp16"
    rows: int = 32
    cols: int = 32
    m_tile: int = 1024
    window: tuple = (2, 2, 2)
    window_vectors: int = 256
    matchers: int = 1
    scatter_lanes: int = 2
    sort_width: int = 32
    max_tokens: int = 12800
    offset_bits: int = 8
    mul_stages: int = None
    add_stages: int = None
    matcher_width: int = None
    collector_lanes: int = None

    def __post_init__(self):
        check_choice(None, "dtype", self.dtype, DTYPES)
        for name in ("rows", "cols", "m_tile"):
            check_int(None, name, getattr(self, name))
        if not isinstance(self.window, tuple):
            raise ValueError(f"window must be a tuple of 3 integers, got {self.window!r}")
        window = check_window(None, self.window)
        # The smallest span any strides give is (bf-1) + (bh-1) + bw (FS = HS = 1); the
        # runtime strides are checked by the SIC unit (error flag, check_registers).
        check_int(None, "window_vectors", self.window_vectors, low=sum(window) - 2)
        check_int(None, "matchers", self.matchers, high=self.candidates)
        check_int(None, "scatter_lanes", self.scatter_lanes, limit="lanes")
        for name in ("sort_width", "max_tokens", "offset_bits"):
            check_int(None, name, getattr(self, name))
        number_format(self.dtype, mul_stages=self.mul_stages, add_stages=self.add_stages)
        for name, legal in (("matcher_width", fold_widths), ("collector_lanes", divisors)):
            value = getattr(self, name)
            for size in dict.fromkeys((self.rows, self.cols)):
                if value is not None:
                    check_choice(None, name, value, legal(size), f"for V = {size}")

    @property
    def candidates(self):
        """SIC candidates per key vector: ``bf*bh*bw - 1``."""
        return self.window[0] * self.window[1] * self.window[2] - 1

    def to_dict(self):
        """Every parameter; optional ones left at ``None`` (their default) are omitted, so
        adding such a parameter changes no existing configuration's hash."""
        data = {key: value for key, value in dataclasses.asdict(self).items()
                if value is not None}
        data["window"] = list(self.window)
        return data

    @property
    def hash(self):
        """Short stable hash of every parameter (names build directories)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def with_overrides(self, assignments):
        """A copy with ``["key=value", ...]`` strings applied, as given to ``--set``."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            key, text = key.strip().replace("-", "_"), text.strip()
            if not sep or key not in fields:
                raise ValueError(f"--set expects key=value with key one of "
                                 f"{', '.join(fields)}, got {assignment!r}")
            changes[key] = _parse_value(key, fields[key].type, text)
        return self.replace(**changes)


def _parse_value(key, kind, text):
    try:
        if kind == "str" or kind is str:
            return text
        if kind == "tuple" or kind is tuple:
            return tuple(int(part) for part in text.replace("x", ",").split(","))
        return int(text, 0)
    except ValueError:
        raise ValueError(f"{key}: cannot parse {text!r}") from None


#: The published design point. Its SIC gather folds each dot product over two cycles
#: (``matcher_width`` 16) and drains two means per cycle (``collector_lanes`` 2): 16 cycles per
#: key, the smallest gather that stays hidden behind the array at the published 82.8 %
#: sparsity (docs/area.md, "Area that follows throughput").
PAPER = FocusConfig(matcher_width=16, collector_lanes=2)

#: Named configurations.
CONFIGS = {
    "paper": PAPER,
    "paper-int8": PAPER.replace(dtype="int8"),
    "small": FocusConfig(dtype="int8", rows=8, cols=8, m_tile=128, window_vectors=64,
                         scatter_lanes=2, sort_width=8, max_tokens=512, offset_bits=4),
    "tiny": FocusConfig(dtype="int8", rows=4, cols=4, m_tile=32, window_vectors=32,
                        scatter_lanes=2, sort_width=4, max_tokens=64, offset_bits=3),
}


def get_config(name):
    """The named configuration ``name``; a clear error lists the known names."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown configuration {name!r}; known: "
                         f"{', '.join(CONFIGS)}") from None
