"""Cycle counts split by cause, shared by the published and the RTL-calibrated models.

Causes (their sum is the layer's cycles):

``compute``  the array streaming vectors (published model: its ``M + 93`` per fold)
``reload``   folds shorter than the array's weight-reload period (RTL model)
``scatter``  the array waiting for the scatter accumulator
``tile``     per-output-tile overhead of the engine (RTL model)
``gather``   waiting for the SIC gather, including the last tile's drain
``edge``     pipeline fill and drain of a GEMM (RTL model)
``sec``      SEC importance analysis and top-k not hidden behind the GEMMs (RTL model)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CAUSES", "Cycles", "ArrayShape"]

CAUSES = ("compute", "reload", "scatter", "tile", "gather", "edge", "sec")


@dataclass
class Cycles:
    """Cycles by cause (:data:`CAUSES`) plus the array's streamed vectors."""

    parts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0.0))
    vectors: float = 0.0

    @classmethod
    def of(cls, vectors: float = 0.0, **parts: float) -> "Cycles":
        unknown = set(parts) - set(CAUSES)
        if unknown:
            raise ValueError(f"unknown cycle cause(s) {sorted(unknown)}; known: {', '.join(CAUSES)}")
        result = cls(vectors=float(vectors))
        for cause, value in parts.items():
            result.parts[cause] = float(value)
        return result

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    @property
    def stalls(self) -> float:
        """Everything but ``compute``."""
        return self.total - self.parts["compute"]

    def __add__(self, other: "Cycles") -> "Cycles":
        return Cycles({c: self.parts[c] + other.parts[c] for c in CAUSES},
                      self.vectors + other.vectors)

    def scaled(self, factor: float, causes=CAUSES) -> "Cycles":
        """A copy with ``causes`` (and the vectors) multiplied by ``factor``."""
        return Cycles({c: self.parts[c] * factor if c in causes else self.parts[c] for c in CAUSES},
                      self.vectors * factor)


@dataclass(frozen=True)
class ArrayShape:
    """The hardware parameters the cycle formulas read (from a ``FocusConfig``).

    Attributes
    ----------
    rows, cols : int
        Array size: K-slice (= vector size V) and N-slice.
    m_tile : int
        Tokens per output tile.
    lanes : int
        Scatter-accumulator lanes.
    matchers : int
        SIC gather matchers.
    sort_width : int
        SEC sorter chain length a.
    dtype : str
    """

    rows: int
    cols: int
    m_tile: int
    lanes: int
    matchers: int
    sort_width: int
    dtype: str

    @classmethod
    def from_config(cls, config) -> "ArrayShape":
        return cls(config.rows, config.cols, config.m_tile, config.scatter_lanes,
                   config.matchers, config.sort_width, config.dtype)
