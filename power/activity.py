"""Simulated switching activity onto a prepared netlist (:mod:`power.netlist`).

A register's ``Q`` gets the toggles per cycle and the duty of the RTL signal bit of the same
name in the same instance scope of the SAIF; an input port of the block gets those of its
port signal; an activity source gets its constant, or the activity of the net it stands in
for. What found no signal keeps OpenSTA's default and is counted as not annotated.

With sampled PE columns (:func:`power.stimulus.sample_pe_columns`) the registers of a PE that
was not traced take the activity of the traced PE of the same row in the nearest sampled
column (:func:`nearest_pe`); they are counted as annotated *from a sample*.
"""

import dataclasses
import re

from .netlist import hierarchy, plain_name, registers, sequential_arcs
from .sta import Activity

__all__ = ["Coverage", "annotate", "nearest_pe"]

_PE_RE = re.compile(r"^pe_(\d+)_(\d+)$")


def nearest_pe(columns):
    """A scope substitution: ``pe_<r>_<c>`` -> ``pe_<r>_<s>`` with ``s`` the sampled column
    nearest to ``c`` (``None`` when the scope has no PE of an unsampled column)."""
    columns = sorted(columns)

    def substitute(scope):
        changed, out = False, []
        for name in scope:
            match = _PE_RE.match(name)
            if match and int(match.group(2)) not in columns:
                column = min(columns, key=lambda s: (abs(s - int(match.group(2))), s))
                name, changed = f"pe_{match.group(1)}_{column}", True
            out.append(name)
        return tuple(out) if changed else None

    return substitute


@dataclasses.dataclass(frozen=True)
class Coverage:
    """Annotated / all, for register output pins, input ports and activity sources;
    ``sampled``: registers annotated from a sampled instance (included in ``registers``)."""

    registers: tuple
    ports: tuple
    sources: tuple
    sampled: int = 0
    groups: dict = dataclasses.field(default_factory=dict)   # {instance: (annotated, all,
    #                                                             from samples)}

    @property
    def register_fraction(self):
        annotated, total = self.registers
        return annotated / total if total else 1.0


def _rate(entry, cycles, duration):
    t1, tc = entry
    return tc / cycles, min(max(t1 / duration, 0.0), 1.0)


def annotate(prepared, top, library, saif, scope, cycles, substitute=None):
    """``(Activity, Coverage, missing register names)`` for module ``top`` whose instance
    in the simulation is ``scope`` (a tuple of SAIF instance names); ``substitute`` maps the
    scope of an untraced instance to a traced one (:func:`nearest_pe`)."""
    pins, inputs, cells, missing, found, sampled = {}, {}, set(), [], 0, 0
    regs = registers(prepared, top, library)
    groups = {}                  # first instance below the top -> [annotated, total, sampled]
    for reg in regs:
        group = groups.setdefault(reg.scope[0] if reg.scope else "", [0, 0, 0])
        group[1] += 1
        nets = saif.nets.get(tuple(scope) + reg.scope, {})
        entry = next((nets[name] for name in reg.names if name in nets), None)
        if entry is None and substitute is not None:
            other = substitute(tuple(scope) + reg.scope)
            nets = saif.nets.get(other, {}) if other else {}
            entry = next((nets[name] for name in reg.names if name in nets), None)
            sampled += entry is not None
            group[2] += entry is not None
        if entry is None:
            missing.append("/".join(reg.scope + (reg.names[0],)))
            continue
        found += 1
        group[0] += 1
        pins[f"{reg.path}/{reg.pin}"] = _rate(entry, cycles, saif.duration)
        cells.add(reg.cell)
        for data in reg.inputs:     # see power.sta: keeps OpenSTA from re-deriving Q from D
            inputs[f"{reg.path}/{data}"] = (0.0, 0.5)
    ports, port_found, port_total = {}, 0, 0
    top_nets = saif.scope(scope)
    for name, direction in prepared.modules[top].directions.items():
        port = plain_name(name)
        if direction != "input" or port == "clk":
            continue
        port_total += 1
        if port in top_nets:
            port_found += 1
            ports[port] = _rate(top_nets[port], cycles, saif.duration)
    source_found, source_total = 0, 0
    q_pin = prepared.flop_pins[2]
    for module, prefix, inner in hierarchy(prepared, top):
        for source in prepared.sources.get(module, ()):
            path = prefix + source.instance
            source_total += 1
            cells.add(prepared.flop_cell)
            inputs[f"{path}/{prepared.flop_pins[1]}"] = (0.0, 0.5)
            if source.constant is not None:
                pins[f"{path}/{q_pin}"] = (0.0, float(source.constant))
                source_found += 1
                continue
            nets = saif.nets.get(tuple(scope) + inner, {})
            entry = nets.get(plain_name(source.net))
            if entry is None and substitute is not None:
                other = substitute(tuple(scope) + inner)
                entry = saif.nets.get(other, {}).get(plain_name(source.net)) if other else None
            if entry is not None:
                source_found += 1
                pins[f"{path}/{q_pin}"] = _rate(entry, cycles, saif.duration)
    coverage = Coverage((found, len(regs)), (port_found, port_total),
                        (source_found, source_total), sampled,
                        {name: tuple(counts) for name, counts in groups.items()})
    activity = Activity(pins, ports, inputs,
                        tuple(sequential_arcs(library, cells)))
    return activity, coverage, missing
