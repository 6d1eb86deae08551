"""Which generated block belongs to which part of the Focus design, and which to count.

The report iterates over :data:`gen.blocks.BLOCKS`; each block is assigned to the first
category whose pattern matches its name (``re.search``, case-insensitive). Blocks added later
are picked up automatically; a category without any block is listed as "not yet generated".
Extend :data:`CATEGORIES` when a block name fits none of the patterns (it then lands in
"other" and is not counted as Focus logic).

Some blocks contain others (``semantic_concentrator`` = analyzer + sorter + encoder;
``focus_engine`` = array + scatter + converter). :func:`containment` finds this from the
component objects (a container holds its parts as attributes, built in ``__init__``), and
:func:`roles` decides what is summed, so nothing is counted twice:

* a container whose parts all share its category replaces them (it includes their glue);
* a container spanning several categories (the engine) is shown but not summed; its parts are.
"""

import dataclasses
import re

from amaranth.lib import wiring


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
    Category("array", "Systolic array", r"systolic|(^|_)array($|_)|(^|_)pe($|_)",
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


def _component_types(component, depth=3, seen=None):
    """Types of the components held (recursively) in ``component``'s attributes."""
    seen = set() if seen is None else seen
    if depth == 0 or id(component) in seen:
        return set()
    seen.add(id(component))
    # built only to be inspected: no UnusedElaboratable warning when they are collected
    component._MustUse__silence = True
    found = set()
    for value in vars(component).values():
        if isinstance(value, wiring.Component):
            found.add(type(value))
            found |= _component_types(value, depth - 1, seen)
            value._MustUse__silence = True
    return found


def containment(components):
    """``{container: [contained block names]}`` for ``{block name: component}``."""
    types = {name: type(c) for name, c in components.items()}
    result = {}
    for name, component in components.items():
        inside = _component_types(component)
        parts = [other for other, kind in types.items() if other != name and kind in inside]
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
