"""Text-level netlist passes: module deduplication (RTL) and fanout buffering (mapped).

Amaranth writes one Verilog module per submodule *instance* (``pe_0_0`` ... ``pe_31_31``), most
of them identical apart from their names. :func:`dedupe_modules` merges modules that are
identical up to renaming, so Yosys synthesizes each distinct module once and the hierarchy's
instance counts scale it (the hierarchical method of the report).

Yosys maps logic without placement, so a net that fans out to thousands of flip-flops (a global
stall/enable, a reset) reaches OpenSTA with an unrealistic load. ABC buffers nets inside each
module it maps; :func:`buffer_high_fanout` adds balanced buffer trees to the nets it could not
see whole (those crossing module boundaries), as a placement tool's buffering would.
"""

import dataclasses
import hashlib
import re

from gen.generate import verilog_ports
from gen.library import module_header_ports

_MODULE_RE = re.compile(r"^module\s+(\\\S+|[A-Za-z_$][\w$]*)\s*\((.*?)\)\s*;", re.M | re.S)
_ENDMODULE_RE = re.compile(r"^endmodule\b.*$\n?", re.M)
_AUTO_RE = re.compile(r"\\\$auto\$\S+")
_INSTANCE_LINE_RE = re.compile(r"^(\s*)(\\\S+|[A-Za-z_$][\w$]*)(\s+)(\\\S+|[A-Za-z_$][\w$]*)"
                               r"(\s*\()")


# ----------------------------------------------------------------------------------------------
# Verilog modules
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class VerilogModule:
    """One ``module ... endmodule`` of a Verilog file (text includes preceding attributes)."""

    name: str
    ports: list
    text: str


def _strip_escape(name):
    return name[1:] if name.startswith("\\") else name


def split_modules(text):
    """Split Verilog ``text`` into :class:`VerilogModule` objects, in file order.

    Text between modules (attributes, comments) is attached to the module that follows.
    """
    modules, position = [], 0
    for match in _MODULE_RE.finditer(text):
        end = _ENDMODULE_RE.search(text, match.end())
        if end is None:
            raise ValueError(f"module {match.group(1)} has no endmodule")
        ports = [p.strip() for p in match.group(2).split(",") if p.strip()]
        modules.append(VerilogModule(_strip_escape(match.group(1)), ports,
                                     text[position:end.end()]))
        position = end.end()
    return modules


def _rename_instances(text, mapping):
    """Replace instantiated module names per ``mapping`` (plain names, no backslash)."""
    def rename(match):
        target = mapping.get(_strip_escape(match.group(2)))
        if target is None:
            return match.group(0)
        # group 3 (at least one blank) terminates an escaped identifier
        escaped = target if re.fullmatch(r"[A-Za-z_]\w*", target) else "\\" + target
        return match.group(1) + escaped + match.group(3) + match.group(4) + match.group(5)
    return "\n".join(_INSTANCE_LINE_RE.sub(rename, line) for line in text.split("\n"))


def _canonical_key(module):
    """Hash of a module's behaviour-relevant text: its name, port order and the writer's
    auto-generated identifiers do not count."""
    body = module.text[_MODULE_RE.search(module.text).end():]
    numbering = {}
    body = _AUTO_RE.sub(lambda m: numbering.setdefault(m.group(0), f"\\$auto${len(numbering)}"),
                        body)
    header = ",".join(sorted(module.ports))
    return hashlib.sha256((header + "\n" + body).encode()).hexdigest()


def dedupe_modules(text):
    """Merge modules that are identical up to renaming.

    Parameters
    ----------
    text : str
        Verilog with one module per submodule instance (Amaranth's output).

    Returns
    -------
    text : str
        The same design with one module per distinct body; instances refer to the first
        module (in file order) of their class.
    classes : dict
        Representative module name -> list of the module names it stands for.

    Notes
    -----
    Only renaming-invariant differences are ignored (module name, header port order,
    ``$auto$`` identifiers), so merged modules are functionally identical. Merging runs to a
    fixed point, so parents of merged children merge too.
    """
    modules = split_modules(text)
    mapping = {}
    while True:
        for module in modules:
            module.text = _rename_instances(module.text, mapping)
        first_of_key, new_mapping = {}, {}
        for module in modules:
            if module.name in mapping:
                continue
            representative = first_of_key.setdefault(_canonical_key(module), module.name)
            if representative != module.name:
                new_mapping[module.name] = representative
        if not new_mapping:
            break
        mapping.update(new_mapping)
        mapping = {name: _resolve(mapping, target) for name, target in mapping.items()}
    classes = {}
    for module in modules:
        classes.setdefault(_resolve(mapping, module.name), []).append(module.name)
    kept = "".join(m.text for m in modules if m.name not in mapping)
    return kept, classes


_MEMORY_INIT_RE = re.compile(r"^  initial begin\n((?:    (\\\S+ |[A-Za-z_][\w$]*)\[\d+\] = "
                             r"\d+'[hbd]0+;\n)+)  end\n", re.M)


def strip_zero_memory_init(text):
    """Drop the ``initial`` blocks that set every word of a written memory to zero.

    Amaranth writes the reset value of each memory word (3,072 lines of 1024-bit zeros for
    the paper scatter accumulator's banks), which Yosys 0.23's ``read_verilog`` needs about 50
    CPU seconds to elaborate. The flow replaces every memory by the ``focus_sram`` blackbox,
    which takes no initial contents, so a written memory's all-zero initialization cannot
    change the result. Memories that are never written (ROMs) and non-zero contents are kept.

    Returns
    -------
    text : str
    stripped : list of str
        Memories whose initialization was dropped.
    """
    stripped = []

    def strip(match):
        names = {line.split("[", 1)[0].strip()
                 for line in match.group(1).splitlines()}
        (name,) = names if len(names) == 1 else (None,)
        written = name is not None and re.search(
            r"(?<![\w$\\])" + re.escape(name) + r"\s*\[[^;=]*\]\s*<=", text)
        if not written:
            return match.group(0)
        stripped.append(name)
        return ""
    return _MEMORY_INIT_RE.sub(strip, text), stripped


def _resolve(mapping, name):
    while name in mapping:
        name = mapping[name]
    return name


# ----------------------------------------------------------------------------------------------
# Mapped netlists (Yosys write_verilog -noattr -noexpr after splitnets -ports)
# ----------------------------------------------------------------------------------------------

_DECL_RE = re.compile(r"^\s*(input|output|inout|wire)\s+(?:\[\d+:\d+\]\s+)?(\\\S+|[\w$]+)\s*;")
_CONN_RE = re.compile(r"^\s*\.(\\\S+\s|[\w$]+)\s*\(\s*(\\\S+\s|[\w$]+|\d+'[bB][01xXzZ]+)?\s*\)"
                      r"\s*,?\s*$")
_ASSIGN_RE = re.compile(r"^\s*assign\s+(\\\S+\s|[\w$]+)\s*=\s*(\\\S+\s|[\w$]+|\d+'[bBhH]\w+)\s*;")
_CONST_RE = re.compile(r"\d+'[bB]")


@dataclasses.dataclass
class Connection:
    line: int
    instance: str
    cell: str
    pin: str
    net: str


@dataclasses.dataclass
class MappedModule:
    name: str
    lines: list
    directions: dict
    connections: list
    aliases: list
    end_line: int


def parse_mapped(module):
    """The declarations, leaf and module instance connections (one per pin) and ``assign``
    aliases of one mapped module (a :class:`VerilogModule` of a Yosys-written netlist)."""
    lines = module.text.split("\n")
    directions, connections, aliases = {}, [], []
    current, end_line = None, len(lines) - 1
    for index, line in enumerate(lines):
        if line.startswith("endmodule"):
            end_line = index
            break
        declaration = _DECL_RE.match(line)
        if declaration:
            if declaration.group(1) != "wire":
                directions[declaration.group(2).strip()] = declaration.group(1)
            continue
        assign = _ASSIGN_RE.match(line)
        if assign:
            aliases.append((assign.group(1).strip(), assign.group(2).strip()))
            continue
        if current is None:
            head = _INSTANCE_LINE_RE.match(line)
            if head and head.group(2) not in ("module", "assign", "input", "output", "wire"):
                current = (_strip_escape(head.group(2)), head.group(4).strip())
            continue
        if line.strip() == ");":
            current = None
            continue
        connection = _CONN_RE.match(line)
        if connection and connection.group(2):
            connections.append(Connection(index, current[1], current[0],
                                           _strip_escape(connection.group(1).strip()),
                                           connection.group(2).strip()))
    return MappedModule(module.name, lines, directions, connections, aliases, end_line)


class NetAliases:
    """Union-find over net names joined by ``assign`` statements (``find`` gives a net's
    representative)."""

    def __init__(self, aliases):
        self.parent = {}
        for left, right in aliases:
            if not _CONST_RE.match(right):
                self.parent[self.find(left)] = self.find(right)

    def find(self, net):
        while self.parent.get(net, net) != net:
            net = self.parent[net]
        return net


@dataclasses.dataclass(frozen=True)
class BufferingResult:
    """What :func:`buffer_high_fanout` changed."""

    nets: int
    buffers: int
    worst_fanout: int      # largest non-clock fanout before buffering
    constant_pins: int


def _pin_direction(library, port_directions, cell, pin):
    if cell in port_directions:
        return port_directions[cell].get(pin)
    return library.pin_direction(cell, pin)


def _is_clock_net(library, loads):
    return any(library.cells.get(c.cell) is not None and
               any(p.name == c.pin and p.is_clock for p in library.cells[c.cell].pins)
               for c in loads)


def _tree(loads, max_fanout):
    """Group ``loads`` into a balanced tree: list of levels, leaves first."""
    levels, current = [], loads
    while len(current) > max_fanout:
        groups = [current[i:i + max_fanout] for i in range(0, len(current), max_fanout)]
        levels.append(groups)
        current = groups
    return levels


def _buffer_net(module, root, loads, library, buffer_cell, max_fanout, counter):
    """Insert a buffer tree between ``root`` and ``loads``; returns the buffers added."""
    cell = library.cells[buffer_cell]
    pin_in, pin_out = cell.inputs[0].name, cell.outputs[0].name
    new_lines, buffers = [], 0

    def add_buffer(source):
        nonlocal buffers
        net = f"\\focus_fanout_{counter[0]} "
        counter[0] += 1
        buffers += 1
        new_lines.append(f"  wire {net};")
        new_lines.extend([f"  {buffer_cell} focus_fanout_buf_{counter[0]} (",
                          f"    .{pin_in}({source}),", f"    .{pin_out}({net})", "  );"])
        return net

    def drive(group, source):
        # group: a list of connections (leaf level) or of subgroups.
        net = add_buffer(source)
        for item in group:
            if isinstance(item, Connection):
                line = module.lines[item.line]
                module.lines[item.line] = line.replace(f"({item.net}", f"({net}", 1)
            else:
                drive(item, net)

    levels = _tree(loads, max_fanout)
    root_net = root + " " if root.startswith("\\") else root
    for group in levels[-1] if levels else []:
        drive(group, root_net)
    module.lines[module.end_line:module.end_line] = new_lines
    return buffers


def buffer_high_fanout(text, library, *, max_fanout=16, buffer_cell=None):
    """Add balanced buffer trees to every net with more than ``max_fanout`` loads.

    Parameters
    ----------
    text : str
        Mapped netlist from ``write_verilog -noattr -noexpr`` after ``splitnets -ports``.
    library : synth.liberty.Library
        The cell library of the netlist.
    max_fanout : int
        Loads one buffer (or the original driver) may drive.
    buffer_cell : str, optional
        Buffer to use; default the library's strongest non-clock buffer.

    Returns
    -------
    text : str
        The buffered netlist.
    result : BufferingResult

    Notes
    -----
    A load is a cell input pin or a submodule input port (counted once: ABC has already
    buffered the fanout inside the submodule). Clock nets (any load is a liberty clock pin)
    stay ideal, as OpenSTA treats them. Pins tied to constants are counted (OSU 0.18 um has no
    tie cells; OpenSTA reads the constants directly).
    """
    buffer_cell = buffer_cell or library.strongest_buffer().name
    modules = split_modules(text)
    parsed = [parse_mapped(m) for m in modules]
    port_directions = {p.name: {_strip_escape(k): v for k, v in p.directions.items()
                                if v in ("input", "output", "inout")} for p in parsed}
    counter, nets, buffers, worst, constants = [0], 0, 0, 0, 0
    for module in parsed:
        union = NetAliases(module.aliases)
        loads = {}
        for connection in module.connections:
            if _CONST_RE.match(connection.net):
                constants += 1
                continue
            if _pin_direction(library, port_directions, connection.cell,
                              connection.pin) == "input":
                loads.setdefault(union.find(connection.net), []).append(connection)
        for root, net_loads in loads.items():
            if _is_clock_net(library, net_loads):
                continue
            worst = max(worst, len(net_loads))
            if len(net_loads) > max_fanout:
                nets += 1
                buffers += _buffer_net(module, net_loads[0].net, net_loads, library,
                                       buffer_cell, max_fanout, counter)
    out = "".join("\n".join(p.lines) for p in parsed)
    return out, BufferingResult(nets, buffers, worst, constants)


# ----------------------------------------------------------------------------------------------
# Module boundaries: blackbox stubs (RTL) and bit-level ports of instances (mapped)
# ----------------------------------------------------------------------------------------------

def blackbox_stub(text, module):
    """A ``(* blackbox *)`` module with the ports of ``module`` in generated Verilog ``text``.

    A parent module is synthesized with its child modules read as these stubs: Yosys sees
    their interfaces only (nothing is optimized across the boundary), and the parent's inputs
    depend on the child's ports, not on its implementation.

    Raises
    ------
    ValueError
        When a port of the module header has no declaration (the stub would be incomplete).
    """
    declared = verilog_ports(text, module)
    header = module_header_ports(text, module)
    missing = sorted(set(header) - {port["name"] for port in declared})
    if missing:
        raise ValueError(f"module {module}: no declaration found for port(s) "
                         f"{', '.join(missing)}; cannot write its blackbox stub")
    lines = ["(* blackbox *)", f"module {module}({', '.join(header)});"]
    for port in declared:
        width = f"[{port['width'] - 1}:0] " if port["width"] > 1 else ""
        lines.append(f"  {port['direction']} {width}{port['name']};")
    return "\n".join(lines + ["endmodule", ""])


_BIT_PORT_RE = re.compile(r"^\\(.+)\[(\d+)\]$")
_TOKEN_RE = re.compile(r"\s*(\\\S+\s|\d+'[bB][01xXzZ]+|[\w$]+|[.(){},;])")


def _split_buses(modules):
    """``{module: {bus: [bit port names, LSB first]}}`` of ports ``splitnets -ports`` split."""
    buses = {}
    for module in modules:
        header = _MODULE_RE.search(module.text)
        bits = {}
        for port in (p.strip() for p in header.group(2).split(",") if p.strip()):
            match = _BIT_PORT_RE.match(port)
            if match:
                bits.setdefault(match.group(1), {})[int(match.group(2))] = port
        buses[module.name] = {bus: [ports[i] for i in sorted(ports)]
                              for bus, ports in bits.items()}
    return buses


def _signal_bits(tokens, where):
    """Bits of a connection expression (tokens), MSB first: net names and 1-bit constants."""
    bits = []
    for token in tokens:
        if token in "{},":
            continue
        constant = re.fullmatch(r"(\d+)'[bB]([01xXzZ]+)", token)
        if constant:
            width, digits = int(constant.group(1)), constant.group(2)
            digits = digits.rjust(width, "0")[-width:]
            bits += [f"1'b{digit}" for digit in digits]
        else:
            bits.append(token.strip() + (" " if token.startswith("\\") else ""))
    if not bits:
        raise ValueError(f"{where}: empty connection")
    return bits


def _connections(body, where):
    """``[(pin, [expression tokens])]`` of an instance body ``.pin(expr), ...``."""
    tokens = _TOKEN_RE.findall(body)
    connections, index = [], 0
    while index < len(tokens):
        if tokens[index] == ",":
            index += 1
            continue
        if tokens[index] != "." or index + 2 >= len(tokens) or tokens[index + 2] != "(":
            raise ValueError(f"{where}: cannot parse connection near "
                             f"{' '.join(tokens[index:index + 4])!r}")
        pin, index, depth, expression = tokens[index + 1], index + 3, 1, []
        while depth:
            token = tokens[index]
            depth += {"(": 1, ")": -1}.get(token, 0)
            if depth:
                expression.append(token)
            index += 1
        connections.append((pin, expression))
    return connections


def split_instance_ports(text):
    """Connect instances of modules whose ports ``splitnets -ports`` split, bit by bit.

    Each module is synthesized on its own, so its mapped netlist has single-bit ports
    (``\\psum_in[3]``) while its parent, which saw it as a blackbox, still connects the bus
    (``.psum_in({ ... })``). This rewrites every such connection to one connection per bit,
    so the concatenated netlists of a hierarchy link in OpenSTA.

    Parameters
    ----------
    text : str
        Mapped netlists (``write_verilog -noattr -noexpr`` after ``splitnets -ports``) of
        every module of a hierarchy, concatenated.

    Returns
    -------
    str
        The netlist with bit-level connections to every split bus port.

    Raises
    ------
    ValueError
        When a connection's width differs from the port's or cannot be parsed.
    """
    modules = split_modules(text)
    buses = {name: ports for name, ports in _split_buses(modules).items() if ports}
    out = []
    for module in modules:
        lines, result, index = module.text.split("\n"), [], 0
        while index < len(lines):
            line = lines[index]
            head = _INSTANCE_LINE_RE.match(line)
            cell = _strip_escape(head.group(2)) if head else None
            if cell not in buses:
                result.append(line)
                index += 1
                continue
            end = index
            while lines[end].strip() != ");":
                end += 1
            joined = " ".join(lines[index:end + 1])
            body = joined[head.end():joined.rindex(")")]
            where = f"module {module.name}, instance {head.group(4).strip()} of {cell}"
            result.append(line[:head.end()].rstrip())
            pins = []
            for pin, expression in _connections(body, where):
                bits = buses[cell].get(pin)
                if bits is None:
                    pins.append(f"    .{pin}({' '.join(expression)})")
                    continue
                signal = _signal_bits(expression, f"{where}, port {pin}")
                if len(signal) != len(bits):
                    raise ValueError(f"{where}: port {pin} has {len(bits)} bits, the "
                                     f"connection {len(signal)}")
                pins += [f"    .{port} ({net})" for port, net in zip(reversed(bits), signal)]
            result.append(",\n".join(pins))
            result.append("  );")
            index = end + 1
        out.append("\n".join(result))
    return "".join(out)
