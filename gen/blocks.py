"""The top-level blocks the generator emits, one Verilog file each."""

import dataclasses

from rtl.arith import get_format
from rtl.focus_engine import FocusEngine
from rtl.importance_analyzer import ImportanceAnalyzer
from rtl.offset_decoder import OffsetDecoder
from rtl.offset_encoder import OffsetEncoder
from rtl.scatter_accumulator import ScatterAccumulator
from rtl.semantic_concentrator import SemanticConcentrator
from rtl.similarity_gather import SimilarityGather
from rtl.systolic_array import SystolicArray
from rtl.topk_sorter import TopKSorter


@dataclasses.dataclass(frozen=True)
class Block:
    """A generated block: its Verilog module name and how to build it from a configuration."""

    name: str
    module: str
    build: callable
    description: str


BLOCKS = [
    Block("systolic_array", "focus_systolic_array",
          lambda cfg: SystolicArray(get_format(cfg.dtype), rows=cfg.rows, cols=cfg.cols),
          "weight-stationary rows x cols array, double-buffered weights"),
    Block("scatter_accumulator", "focus_scatter_accumulator",
          lambda cfg: ScatterAccumulator(get_format(cfg.dtype), cols=cfg.cols,
                                         m_tile=cfg.m_tile, lanes=cfg.scatter_lanes),
          "adds unique-vector partial sums into every mapped token row, over all K-slices"),
    Block("focus_engine", "focus_engine", FocusEngine.from_config,
          "top level: array -> scatter accumulator -> output conversion -> SIC gather, "
          "dense/concentrated"),
    Block("importance_analyzer", "focus_importance_analyzer",
          lambda cfg: ImportanceAnalyzer(dtype=cfg.dtype, sort_width=cfg.sort_width,
                                         max_tokens=cfg.max_tokens),
          "SEC: sort_width running-max lanes over a max_tokens importance buffer"),
    Block("topk_sorter", "focus_topk_sorter",
          lambda cfg: TopKSorter(dtype=cfg.dtype, sort_width=cfg.sort_width,
                                 max_tokens=cfg.max_tokens),
          "SEC: multi-pass top-k with a sort_width insertion chain, ascending indices out"),
    Block("offset_encoder", "focus_offset_encoder",
          lambda cfg: OffsetEncoder(max_tokens=cfg.max_tokens, offset_bits=cfg.offset_bits),
          "SEC: ascending indices -> escape-coded delta offsets"),
    Block("offset_decoder", "focus_offset_decoder",
          lambda cfg: OffsetDecoder(max_tokens=cfg.max_tokens, offset_bits=cfg.offset_bits),
          "SEC: escape-coded delta offsets -> ascending indices"),
    Block("semantic_concentrator", "focus_semantic_concentrator",
          lambda cfg: SemanticConcentrator(dtype=cfg.dtype, sort_width=cfg.sort_width,
                                           max_tokens=cfg.max_tokens,
                                           offset_bits=cfg.offset_bits),
          "SEC top: analyzer -> sorter -> offset encoder"),
    Block("similarity_gather", "focus_similarity_gather", SimilarityGather.from_config,
          "SIC gather of one tile slot: layouter, similarity matcher(s), collector"),
]
