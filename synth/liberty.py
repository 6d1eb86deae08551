"""A minimal reader for the parts of a Liberty (.lib) file the flow needs.

Only cell names, areas, pin directions, pin capacitances and output functions are read; timing
tables are left to OpenSTA. The parser matches braces, so nested groups of any depth are skipped
correctly, and it tolerates comments and line continuations.
"""

import dataclasses
import re
from pathlib import Path

_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)
_GROUP_RE = re.compile(r"\b(cell|pin)\s*\(\s*\"?([^\"()]+?)\"?\s*\)\s*\{")
_SEQUENTIAL_RE = re.compile(r"\b(ff|latch|ff_bank|latch_bank|statetable)\s*\(")
_ATTR_RE = re.compile(r"\b(\w+)\s*:\s*\"?([^;\"]*)\"?\s*;")


@dataclasses.dataclass(frozen=True)
class Pin:
    """One pin of a library cell."""

    name: str
    direction: str
    capacitance: float = 0.0
    function: str = ""
    is_clock: bool = False


@dataclasses.dataclass(frozen=True)
class Cell:
    """One library cell: its area (library area unit, um^2 for common libraries) and pins."""

    name: str
    area: float
    pins: tuple
    sequential: bool = False

    @property
    def inputs(self):
        return [p for p in self.pins if p.direction == "input"]

    @property
    def outputs(self):
        return [p for p in self.pins if p.direction == "output"]

    @property
    def is_buffer(self):
        """True for a one-input, one-output cell whose output function is its input."""
        ins, outs = self.inputs, self.outputs
        return (len(ins) == 1 and len(outs) == 1 and len(self.pins) == 2
                and outs[0].function.strip() == ins[0].name)


@dataclasses.dataclass(frozen=True)
class Library:
    """The cells of one Liberty file."""

    name: str
    path: Path
    cells: dict
    corner: str = "unknown corner"

    def area(self, cell_type):
        """Area of ``cell_type``; ``KeyError`` when the library does not have it."""
        return self.cells[cell_type].area

    def pin_direction(self, cell_type, pin):
        """``"input"``/``"output"``, or ``None`` for an unknown cell or pin."""
        cell = self.cells.get(cell_type)
        for candidate in cell.pins if cell else ():
            if candidate.name == pin:
                return candidate.direction
        return None

    def strongest_buffer(self):
        """The largest non-clock buffer cell (the one a flow would use for fanout trees)."""
        buffers = [c for c in self.cells.values()
                   if c.is_buffer and not c.name.upper().startswith("CLK")]
        if not buffers:
            buffers = [c for c in self.cells.values() if c.is_buffer]
        if not buffers:
            raise ValueError(f"{self.path}: the library has no buffer cell")
        return max(buffers, key=lambda c: (c.area, c.name))


def _group_body(text, start):
    """Return the index just past the brace that closes the group opened at ``start - 1``."""
    depth = 1
    index = start
    while depth:
        opening = text.find("{", index)
        closing = text.find("}", index)
        if closing < 0:
            raise ValueError("unbalanced braces in liberty file")
        if 0 <= opening < closing:
            depth, index = depth + 1, opening + 1
        else:
            depth, index = depth - 1, closing + 1
    return index


def _top_level_attributes(body):
    """Attributes of a group body, ignoring those of its nested groups."""
    flat, index = [], 0
    while True:
        opening = body.find("{", index)
        if opening < 0:
            flat.append(body[index:])
            break
        flat.append(body[index:opening])
        index = _group_body(body, opening + 1)
    return dict(_ATTR_RE.findall("".join(flat)))


def _parse_pins(body):
    pins = []
    for match in _GROUP_RE.finditer(body):
        if match.group(1) != "pin":
            continue
        end = _group_body(body, match.end())
        attrs = _top_level_attributes(body[match.end():end - 1])
        pins.append(Pin(match.group(2).strip(), attrs.get("direction", "").strip(),
                        float(attrs.get("capacitance", 0) or 0),
                        attrs.get("function", "").strip(),
                        attrs.get("clock", "").strip() == "true"))
    return tuple(pins)


def read_liberty(path):
    """Parse ``path`` into a :class:`Library`.

    Parameters
    ----------
    path : str or Path
        Liberty file.

    Returns
    -------
    Library
    """
    path = Path(path)
    text = _COMMENT_RE.sub(" ", path.read_text(errors="replace")).replace("\\\n", " ")
    header = re.search(r"\blibrary\s*\(\s*\"?([^\"()]+?)\"?\s*\)", text)
    cells = {}
    index = 0
    while True:
        match = _GROUP_RE.search(text, index)
        if not match:
            break
        end = _group_body(text, match.end())
        if match.group(1) == "cell":
            body = text[match.end():end - 1]
            attrs = _top_level_attributes(body)
            name = match.group(2).strip()
            cells[name] = Cell(name, float(attrs.get("area", 0) or 0), _parse_pins(body),
                               bool(_SEQUENTIAL_RE.search(body)))
        index = end
    if not cells:
        raise ValueError(f"{path}: no cells found; is this a Liberty file?")
    return Library(header.group(1) if header else path.stem, path, cells, _corner(text))


def _corner(text):
    """``"typical, 1.8 V, 25 C"`` from the library's default operating conditions."""
    def find(attribute):
        match = re.search(rf"\b{attribute}\s*:\s*\"?([\w.+-]+)", text)
        return match.group(1) if match else None
    parts = [find("default_operating_conditions"),
             f"{find('nom_voltage')} V" if find("nom_voltage") else None,
             f"{find('nom_temperature')} C" if find("nom_temperature") else None]
    return ", ".join(p for p in parts if p) or "unknown corner"
