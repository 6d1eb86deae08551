"""Every block validates its generator parameters with the one shared helper and table:
the message names the block, the parameter, the legal range and the bad value."""

import pytest

from rtl.arith import Fp16Format, Int8Format
from rtl.arith.dot_product import DotProduct
from rtl.importance_analyzer import ImportanceAnalyzer
from rtl.offset_decoder import OffsetDecoder
from rtl.offset_encoder import OffsetEncoder
from rtl.parameters import LIMITS, check_int, check_window
from rtl.queue import StreamQueue
from rtl.scatter_accumulator import ScatterAccumulator
from rtl.semantic_concentrator import SemanticConcentrator
from rtl.similarity_gather import SimilarityGather
from rtl.systolic_array import SystolicArray
from rtl.topk_sorter import TopKSorter

pytestmark = pytest.mark.gen

GATHER = dict(vector_size=4, m_tile=32, window=(2, 2, 2), window_vectors=64, matchers=1,
              position_bits=9)
SEC = dict(sort_width=4, max_tokens=64)


@pytest.mark.parametrize("build, message", [
    (lambda: SystolicArray(Int8Format(), rows=0, cols=4),
     r"SystolicArray: rows must be an integer in \[1, 256\], got 0"),
    (lambda: SystolicArray(Int8Format(), rows=True, cols=4),
     r"SystolicArray: rows must be an integer in \[1, 256\], got True"),
    (lambda: SystolicArray(Int8Format(), rows=4, cols=4.0),
     r"SystolicArray: cols must be an integer in \[1, 256\], got 4.0"),
    (lambda: ScatterAccumulator(Int8Format(), cols=4, m_tile=32, lanes=65),
     r"ScatterAccumulator: lanes must be an integer in \[1, 64\], got 65"),
    (lambda: ScatterAccumulator(Int8Format(), cols=4, m_tile=True, lanes=2),
     r"ScatterAccumulator: m_tile must be an integer in \[1, 65536\], got True"),
    (lambda: SimilarityGather(Fp16Format(), **{**GATHER, "matchers": 8}),
     r"SimilarityGather: matchers must be an integer in \[1, 7\], got 8"),
    (lambda: SimilarityGather(Fp16Format(), **{**GATHER, "window": (1, 1, 1)}),
     r"SimilarityGather: window \(1, 1, 1\) has no candidate neighbours"),
    (lambda: SimilarityGather(Fp16Format(), **{**GATHER, "window": (2, 2)}),
     r"SimilarityGather: window must be a tuple of 3 integers in \[1, 8\]"),
    (lambda: SimilarityGather(Fp16Format(), **{**GATHER, "position_bits": 33}),
     r"SimilarityGather: position_bits must be an integer in \[1, 32\], got 33"),
    (lambda: ImportanceAnalyzer(Int8Format(), **{**SEC, "sort_width": 0}),
     r"ImportanceAnalyzer: sort_width must be an integer in \[1, 1024\], got 0"),
    (lambda: TopKSorter(Int8Format(), **{**SEC, "max_tokens": True}),
     r"TopKSorter: max_tokens must be an integer in \[1, 1048576\], got True"),
    (lambda: SemanticConcentrator(Int8Format(), **SEC, offset_bits=17),
     r"SemanticConcentrator: offset_bits must be an integer in \[2, 16\], got 17"),
    (lambda: OffsetEncoder(max_tokens=64, offset_bits=1),
     r"OffsetEncoder: offset_bits must be an integer in \[2, 16\], got 1"),
    (lambda: OffsetDecoder(max_tokens=0, offset_bits=3),
     r"OffsetDecoder: max_tokens must be an integer in \[1, 1048576\], got 0"),
    (lambda: DotProduct(Int8Format(), length=0),
     r"DotProduct: length must be an integer in \[1, 4096\], got 0"),
    (lambda: StreamQueue(8, depth=0),
     r"StreamQueue: depth must be an integer in \[1, 1048576\], got 0"),
])
def test_blocks_name_the_bad_parameter(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_callers_narrow_the_table_but_never_widen_it():
    assert check_int(None, "matchers", 3, high=7) == 3
    with pytest.raises(ValueError, match=r"^matchers must be an integer in \[1, 7\], got 8$"):
        check_int(None, "matchers", 8, high=7)
    with pytest.raises(ValueError, match=r"\[1, 256\]"):
        check_int("X", "rows", 300, high=1000)
    with pytest.raises(ValueError, match=r"^X: scatter_lanes must be an integer in \[1, 64\]"):
        check_int("X", "scatter_lanes", 0, limit="lanes")
    assert check_window("X", [2, 1, 2]) == (2, 1, 2)
    assert all(low <= high for low, high in LIMITS.values())
