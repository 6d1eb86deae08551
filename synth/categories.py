"""Which generated block belongs to which part of the Focus design.

The report iterates over :data:`gen.blocks.BLOCKS`; each block is assigned to the first
category whose pattern matches its name (``re.search``, case-insensitive). Blocks added later
by other issues are picked up automatically; a category without any block is listed as "not
yet generated". Extend :data:`CATEGORIES` when a block name fits none of the patterns (it then
lands in "other" and is not counted as Focus logic).
"""

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Category:
    """A part of the design with the units the spec (section 3.3) puts in it."""

    key: str
    title: str
    pattern: str
    units: str
    focus_logic: bool = False
    contains_others: bool = False


CATEGORIES = (
    Category("engine", "FocusEngine (top level)", r"engine|(^|_)top($|_)",
             "sequencing of all blocks, counters", contains_others=True),
    Category("array", "Systolic array", r"systolic|(^|_)array($|_)|(^|_)pe($|_)",
             "rows x cols PEs, skew/deskew, weight banks, output skid buffer"),
    Category("sec", "SEC (semantic concentration)",
             r"(^|_)sec(_|$)|importance|analy[sz]er|top_?k|sorter|offset",
             "importance analyzer, top-k sorter, offset encoder/decoder", focus_logic=True),
    Category("sic", "SIC (similarity concentration, gather)",
             r"(^|_)sic(_|$)|layouter|matcher|similarity|collector|gather",
             "layouter, similarity matcher, collector", focus_logic=True),
    Category("scatter", "Scatter accumulator", r"scatter",
             "scatter_lanes accumulators", focus_logic=True),
)

OTHER = Category("other", "Other", r"$^", "blocks matching no category")


def categorise(block_name):
    """The :class:`Category` of a block name (:data:`OTHER` when none matches)."""
    for category in CATEGORIES:
        if re.search(category.pattern, block_name, re.I):
            return category
    return OTHER


def missing_categories(block_names):
    """Categories with no block among ``block_names`` (in :data:`CATEGORIES` order)."""
    present = {categorise(name).key for name in block_names}
    return [c for c in CATEGORIES if c.key not in present]
