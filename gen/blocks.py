"""Configuration -> blocks, in one place: the derived parameters and the block registry.

:class:`Derived` turns a :class:`~gen.config.FocusConfig` into the parameters the blocks take
(the number-format object, position widths, the gather's vector size...); every entry of
:data:`BLOCKS` builds its block from a :class:`Derived` the same way, through a
:class:`rtl.hierarchy.Hierarchy`. ``rtl/`` never sees the configuration class.
"""

import dataclasses
import functools

from rtl.focus_engine import FocusEngine
from rtl.importance_analyzer import ImportanceAnalyzer
from rtl.offset_decoder import OffsetDecoder
from rtl.offset_encoder import OffsetEncoder
from rtl.output_converter import OutputConverter
from rtl.processing_element import ProcessingElement
from rtl.scatter_accumulator import ScatterAccumulator
from rtl.semantic_concentrator import SemanticConcentrator
from rtl.similarity_gather import SimilarityGather
from rtl.systolic_array import SystolicArray
from rtl.topk_sorter import TopKSorter

from rtl.hierarchy import INLINE

from .formats import number_format


@dataclasses.dataclass(frozen=True)
class Derived:
    """The block parameters of one configuration.

    Attributes
    ----------
    config : FocusConfig
    fmt : ArithmeticFormat
        The number format of ``config.dtype``, pipelined as ``mul_stages``/``add_stages``.
    position_bits : int
        Width of an original token position (positions below ``max_tokens``).
    candidates : int
        SIC candidates per key, ``bf*bh*bw - 1``.
    """

    config: object

    def __getattr__(self, name):
        # Every configuration field is a derived parameter of the same name.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.config, name)

    @functools.cached_property
    def fmt(self):
        return number_format(self.config.dtype, mul_stages=self.config.mul_stages,
                             add_stages=self.config.add_stages)

    @property
    def position_bits(self):
        return max(1, (self.config.max_tokens - 1).bit_length())

    @property
    def gather(self):
        """Keyword arguments of a SIC gather unit on ``vector_size``-element vectors."""
        return dict(m_tile=self.m_tile, window=self.window, window_vectors=self.window_vectors,
                    matchers=self.matchers, position_bits=self.position_bits,
                    matcher_width=self.matcher_width, collector_lanes=self.collector_lanes)


@dataclasses.dataclass(frozen=True)
class Block:
    """A block the generator emits as a top module: its name, class and parameters."""

    name: str
    cls: type
    parameters: callable        # Derived -> (args, kwargs)
    description: str

    def arguments(self, derived):
        """``(args, kwargs)`` of the block's constructor for ``derived``."""
        return self.parameters(derived)

    def build(self, hierarchy, derived):
        """The block of ``derived``, built through ``hierarchy``."""
        args, kwargs = self.arguments(derived)
        return hierarchy.build(self.cls, *args, **kwargs)


BLOCKS = [
    Block("focus_engine", FocusEngine,
          lambda d: ((d.fmt,), dict(rows=d.rows, cols=d.cols, lanes=d.scatter_lanes,
                                    **d.gather)),
          "top level: array -> scatter accumulator -> output conversion -> SIC gather, "
          "dense/concentrated"),
    Block("systolic_array", SystolicArray,
          lambda d: ((d.fmt,), dict(rows=d.rows, cols=d.cols)),
          "weight-stationary rows x cols array, double-buffered weights"),
    Block("processing_element", ProcessingElement,
          lambda d: ((d.fmt,), {}),
          "one multiply-accumulate cell of the array (two weight banks)"),
    Block("scatter_accumulator", ScatterAccumulator,
          lambda d: ((d.fmt,), dict(cols=d.cols, m_tile=d.m_tile, lanes=d.scatter_lanes)),
          "adds unique-vector partial sums into every mapped token row, over all K-slices"),
    Block("output_converter", OutputConverter,
          lambda d: ((d.fmt,), dict(cols=d.cols)),
          "finished accumulator rows -> output format (fp32 -> fp16, int32 -> int8)"),
    Block("similarity_gather", SimilarityGather,
          lambda d: ((d.fmt,), dict(vector_size=d.rows, **d.gather)),
          "SIC gather of one tile slot: layouter, similarity matcher(s), collector"),
    Block("semantic_concentrator", SemanticConcentrator,
          lambda d: ((d.fmt,), dict(sort_width=d.sort_width, max_tokens=d.max_tokens,
                                    offset_bits=d.offset_bits)),
          "SEC top: analyzer -> sorter -> offset encoder"),
    Block("importance_analyzer", ImportanceAnalyzer,
          lambda d: ((d.fmt,), dict(sort_width=d.sort_width, max_tokens=d.max_tokens)),
          "SEC: sort_width running-max lanes over a max_tokens importance buffer"),
    Block("topk_sorter", TopKSorter,
          lambda d: ((d.fmt,), dict(sort_width=d.sort_width, max_tokens=d.max_tokens)),
          "SEC: multi-pass top-k with a sort_width insertion chain, ascending indices out"),
    Block("offset_encoder", OffsetEncoder,
          lambda d: ((), dict(max_tokens=d.max_tokens, offset_bits=d.offset_bits)),
          "SEC: ascending indices -> escape-coded delta offsets"),
    Block("offset_decoder", OffsetDecoder,
          lambda d: ((), dict(max_tokens=d.max_tokens, offset_bits=d.offset_bits)),
          "SEC: escape-coded delta offsets -> ascending indices"),
]

BLOCKS_BY_NAME = {block.name: block for block in BLOCKS}


def get_block(name):
    """The registered block ``name``; a clear error lists the known ones."""
    try:
        return BLOCKS_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown block {name!r}; known: {', '.join(BLOCKS_BY_NAME)}") \
            from None


def select_blocks(names=None):
    """The blocks named in ``names`` (a list or a comma-separated string; all when empty),
    in registry order."""
    if not names:
        return list(BLOCKS)
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    wanted = {get_block(name).name for name in names}
    return [block for block in BLOCKS if block.name in wanted]


def block_component(config, name):
    """Block ``name`` of ``config`` constructed but never elaborated: for its parameters
    (``latency``, ``reload_gap``, ``storage_bits``...)."""
    component = get_block(name).build(INLINE, Derived(config))
    component._MustUse__silence = True
    return component
