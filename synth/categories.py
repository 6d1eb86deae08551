"""Which generated block belongs to which part of the Focus design, and which to count.

The report iterates over :data:`gen.blocks.BLOCKS`; each block is assigned to the first
category whose pattern matches its name (``re.search``, case-insensitive). Blocks added later
are picked up automatically; a category without any block is listed as "not yet generated".
Extend :data:`CATEGORIES` when a block name fits none of the patterns (it then lands in
"other" and is not counted as Focus logic).

Some blocks contain others (``semantic_concentrator`` = analyzer + sorter + encoder;
``focus_engine`` = array + scatter + converter + gather; ``systolic_array`` = rows x cols
processing elements). :func:`containment` reads this from the generator's manifest (the
modules each block needs, i.e. the ``instantiates`` tree), and :func:`roles` decides what is
summed, so nothing is counted twice:

* a container whose parts all share its category replaces them (it includes their glue);
* a container spanning several categories (the engine) is shown but not summed; its parts are.
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


CATEGORIES = (
    Category("engine", "FocusEngine (top level)", r"engine|(^|_)top($|_)",
             "sequencing of all blocks, counters"),
    Category("array", "Systolic array", r"systolic|(^|_)array($|_)|(^|_)pe($|_)|processing_element",
             "rows x cols PEs, skew/deskew, weight banks, output skid buffer"),
    Category("sec", "SEC (semantic concentration)",
             r"(^|_)sec(_|$)|semantic|importance|analy[sz]er|top_?k|sorter|offset",
             "importance analyzer, top-k sorter, offset encoder/decoder", focus_logic=True),
    Category("sic", "SIC (similarity concentration, gather)",
             r"(^|_)sic(_|$)|layouter|matcher|similarity|collector|gather",
             "layouter, similarity matcher, collector", focus_logic=True),
    Category("scatter", "Scatter accumulator", r"scatter",
             "scatter_lanes accumulators", focus_logic=True),
    Category("convert", "Output conversion (dense datapath)", r"convert",
             "accumulator -> output format, needed without Focus too"),
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


def containment(manifest):
    """``{container: [contained block names]}`` from a generator manifest.

    A block contains every other block of the manifest whose top module is in its hierarchy
    (the transitive ``instantiates`` of its top module's file), in manifest order.
    """
    files = {entry["module"]: entry for entry in manifest["files"]}
    tops = {block["block"]: block["top"] for block in manifest["blocks"]}

    def below(module, seen):
        for child in files[module]["instantiates"]:
            if child not in seen:
                seen.add(child)
                below(child, seen)
        return seen

    result = {}
    for name, top in tops.items():
        inside = below(top, set())
        parts = [other for other, module in tops.items() if other != name and module in inside]
        if parts:
            result[name] = parts
    return result


def roles(block_names, contains):
    """``{block: role}``: ``"counted"``, ``"in <container>"`` or ``"contains others"``."""
    result = {name: "counted" for name in block_names}
    for container, parts in contains.items():
        key = categorise(container).key
        if all(categorise(p).key == key for p in parts):
            for part in parts:
                result[part] = f"in {container}"
        else:
            result[container] = "contains others"
    return result
