"""Prepare a linked mapped netlist for power analysis and list the pins to annotate.

Input: the netlist the timing flow hands OpenSTA for a block (``sta_netlist.v``: the mapped
modules of the hierarchy, ports connected bit by bit, SRAM blackboxes removed, high fanout
buffered; :func:`synth.flow.time_block`). Two things in it defeat Debian's OpenSTA 2.0.17
``report_power``, so :func:`prepare` rewrites them:

* a constant that reaches a cell through a module boundary crashes it (segmentation fault):
  on a pin of a *module* instance (``.psum_in[3](1'b0)``), or assigned to a net inside a
  module (``assign product[0] = 1'b0;`` in the fp16 multiplier, whose constant low product
  bits feed the adders of the array and the SIC dot product); and
* the read data of a removed SRAM is an undriven net, whose loads would get an unknown
  activity.

Each such net gets an *activity source*: a flip-flop (the library's first plain D flip-flop,
``Q`` feeding back to ``D``) that drives it and whose ``Q`` is annotated like any register (a
constant: no toggles, duty 0 or 1; SRAM read data: the activity the simulation recorded on the
net of that name, when there is one). The sources' own power is reported separately and
subtracted (:mod:`power.sta`).

:func:`registers` walks the hierarchy from a top module and lists every flip-flop's ``Q`` pin
with the RTL names of its net (Yosys keeps register names on the nets they drive), which is
how simulated activity lands on the netlist.
"""

import dataclasses
import re

from synth.netlist import NetAliases, parse_mapped, split_modules

__all__ = ["SOURCE_PREFIX", "Register", "Source", "PreparedNetlist", "prepare", "registers",
           "sequential_arcs", "plain_name"]

SOURCE_PREFIX = "focus_activity_source_"
_CONSTANT_RE = re.compile(r"^1'[bh]([01xXzZ])$")
_CONSTANT_ASSIGN_RE = re.compile(r"^(\s*assign\s+.+?\s*=\s*)1'[bh]([01xXzZ])\s*;\s*$")


def plain_name(net):
    """A netlist identifier without Verilog escaping (``\\psum[3]`` -> ``psum[3]``)."""
    net = net.strip()
    return net[1:] if net.startswith("\\") else net


@dataclasses.dataclass(frozen=True)
class Register:
    """One flip-flop below the top: ``path`` (instance path, ``/``-separated, of the cell),
    ``pin`` (its output pin), ``scope`` (instance names from the top to its module),
    ``names`` (the nets its output drives, RTL names first), ``inputs`` (its non-clock
    input pins) and ``cell`` (its library cell)."""

    path: str
    pin: str
    scope: tuple
    names: tuple
    inputs: tuple = ()
    cell: str = ""


@dataclasses.dataclass(frozen=True)
class Source:
    """One activity source added by :func:`prepare`: the flip-flop ``instance`` in
    ``module`` driving ``net``, standing in for ``constant`` (``"0"``/``"1"``) or, when
    ``constant`` is ``None``, for an undriven net (SRAM read data)."""

    module: str
    instance: str
    net: str
    constant: object


@dataclasses.dataclass
class PreparedNetlist:
    """The rewritten netlist text, its modules (parsed) and the sources added per module."""

    text: str
    modules: dict
    sources: dict
    flop_cell: str
    flop_pins: tuple       # (clock, data, output) pin names of ``flop_cell``


def _reference(net):
    """``net`` as it may be written in a connection (escaped names end with a space)."""
    return net + " " if net.startswith("\\") else net


def _plain_flop(library):
    """The smallest sequential library cell with exactly a clock, a data input and one
    output: ``(cell, (clock pin, data pin, output pin))``."""
    candidates = []
    for cell in library.cells.values():
        if not cell.sequential or len(cell.inputs) != 2 or len(cell.outputs) != 1:
            continue
        clocks = [p for p in cell.inputs if p.is_clock]
        data = [p for p in cell.inputs if not p.is_clock]
        if len(clocks) == 1 and len(data) == 1 and "LATCH" not in cell.name.upper():
            candidates.append((cell.area, cell.name,
                               (clocks[0].name, data[0].name, cell.outputs[0].name)))
    if not candidates:
        raise ValueError(f"{library.path}: no plain D flip-flop cell for activity sources")
    _, _, name, pins = min((area, "NEG" in name.upper(), name, pins)
                           for area, name, pins in candidates)
    return name, pins


def _direction(library, port_directions, cell, pin):
    """``"input"``/``"output"`` of ``pin`` (unescaped) of a leaf cell or a module."""
    if cell in port_directions:
        ports = port_directions[cell]
        return ports.get(pin) or ports.get("\\" + pin)
    return library.pin_direction(cell, pin)


def _driven_nets(module, library, port_directions):
    """Nets of ``module`` that something drives: its input ports, outputs of leaf cells and
    output ports of module instances (through ``assign`` aliases)."""
    aliases = NetAliases(module.aliases)
    driven = {aliases.find(name) for name, d in module.directions.items() if d == "input"}
    for c in module.connections:
        if _direction(library, port_directions, c.cell, c.pin) == "output":
            driven.add(aliases.find(c.net))
    for left, right in module.aliases:
        if _CONSTANT_RE.match(right):
            driven.add(aliases.find(left))
    return driven, aliases


def prepare(text, library):
    """Rewrite ``text`` (a linked mapped netlist) for ``report_power``; see the module
    docstring. Returns a :class:`PreparedNetlist`."""
    flop, (clock_pin, data_pin, q_pin) = _plain_flop(library)
    parsed = {m.name: parse_mapped(m) for m in split_modules(text)}
    port_directions = {name: m.directions for name, m in parsed.items()}
    pieces, sources = [], {}
    for name, module in parsed.items():
        lines = list(module.lines)
        added = []

        def source(net, constant):
            instance = f"{SOURCE_PREFIX}{len(added)}_"
            added.append(Source(name, instance, net, constant))
            return instance

        ties = {}

        def tie(digit):
            value = "1" if digit == "1" else "0"
            if value not in ties:
                ties[value] = f"focus_tie{value}_"
                source(ties[value], value)
            return ties[value]

        # constants on module instance pins and assigned constants -> a tie net driven by a
        # source
        for c in module.connections:
            match = _CONSTANT_RE.match(c.net)
            if c.cell in parsed and match:
                line = lines[c.line]
                lines[c.line] = line.replace(f"({c.net})", f"({tie(match.group(1))})", 1)
        for index, line in enumerate(lines):
            match = _CONSTANT_ASSIGN_RE.match(line)
            if match:
                lines[index] = f"{match.group(1)}{tie(match.group(2))};"
        # loads without a driver (read data of removed SRAMs) -> a source each
        driven, aliases = _driven_nets(module, library, port_directions)
        seen = set()
        for c in module.connections:
            direction = _direction(library, port_directions, c.cell, c.pin)
            net = aliases.find(c.net)
            if direction != "input" or _CONSTANT_RE.match(c.net) or net in driven \
                    or net in seen:
                continue
            seen.add(net)
            source(net, None)
        if added:
            clock = "clk" if "clk" in module.directions else "focus_no_clock_"
            declarations = [f"  wire {tie};" for tie in ties.values()]
            if clock != "clk":
                declarations.append(f"  wire {clock};")
            cells = [f"  {flop} {s.instance} (.{clock_pin}({clock}), "
                     f".{data_pin}({_reference(s.net)}), .{q_pin}({_reference(s.net)}));"
                     for s in added]
            end = module.end_line
            lines = lines[:end] + declarations + cells + lines[end:]
            sources[name] = added
        pieces.append("\n".join(lines))
    return PreparedNetlist("".join(pieces), parsed, sources, flop, (clock_pin, data_pin, q_pin))


def hierarchy(prepared, top):
    """``[(module, instance path prefix, scope)]`` of ``top`` and every module instance
    below it (prefix: ``"a/b/"``; scope: ``("a", "b")``)."""
    result = []

    def visit(name, prefix, scope):
        result.append((name, prefix, scope))
        children = {(c.instance, c.cell) for c in prepared.modules[name].connections
                    if c.cell in prepared.modules}
        for instance, cell in sorted(children):
            child = plain_name(instance)
            visit(cell, prefix + child + "/", scope + (child,))

    visit(top, "", ())
    return result


def registers(prepared, top, library):
    """Every flip-flop below module ``top`` (sources excluded) as :class:`Register`."""
    result = []
    for name, prefix, scope in hierarchy(prepared, top):
        module = prepared.modules[name]
        aliases = NetAliases(module.aliases)
        names = {}
        for left, right in module.aliases:
            if not _CONSTANT_RE.match(right):
                names.setdefault(aliases.find(left), []).extend((left, right))
        for c in module.connections:
            cell = library.cells.get(c.cell)
            if cell is None or not cell.sequential \
                    or library.pin_direction(c.cell, c.pin) != "output":
                continue
            group = [c.net] + names.get(aliases.find(c.net), [])
            ordered = sorted({plain_name(n) for n in group},
                             key=lambda n: (n.startswith("_"), n))
            result.append(Register(prefix + plain_name(c.instance), c.pin, scope,
                                   tuple(ordered),
                                   tuple(p.name for p in cell.inputs if not p.is_clock),
                                   c.cell))
    return result


def sequential_arcs(library, cells):
    """``[(cell, clock pin, output pin)]`` of the sequential ``cells`` (names)."""
    arcs = []
    for name in sorted(cells):
        cell = library.cells[name]
        for clock in (p for p in cell.inputs if p.is_clock):
            arcs += [(name, clock.name, out.name) for out in cell.outputs]
    return arcs
