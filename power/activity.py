"""Simulated switching activity onto a prepared netlist (:mod:`power.netlist`).

A register's ``Q`` gets the toggles per cycle and the duty of the RTL signal bit of the same
name in the same instance scope of the SAIF; an input port of the block gets those of its
port signal; an activity source gets its constant, or the activity of the net it stands in
for. What found no signal keeps OpenSTA's default and is counted as not annotated.
"""

import dataclasses

from .netlist import hierarchy, plain_name, registers
from .sta import Activity

__all__ = ["Coverage", "annotate"]


@dataclasses.dataclass(frozen=True)
class Coverage:
    """Annotated / all, for register output pins, input ports and activity sources."""

    registers: tuple
    ports: tuple
    sources: tuple

    @property
    def register_fraction(self):
        annotated, total = self.registers
        return annotated / total if total else 1.0


def _rate(entry, cycles, duration):
    t1, tc = entry
    return tc / cycles, min(max(t1 / duration, 0.0), 1.0)


def annotate(prepared, top, library, saif, scope, cycles):
    """``(Activity, Coverage, missing register names)`` for module ``top`` whose instance
    in the simulation is ``scope`` (a tuple of SAIF instance names)."""
    pins, missing, found = {}, [], 0
    regs = registers(prepared, top, library)
    for reg in regs:
        nets = saif.nets.get(tuple(scope) + reg.scope, {})
        entry = next((nets[name] for name in reg.names if name in nets), None)
        if entry is None:
            missing.append("/".join(reg.scope + (reg.names[0],)))
            continue
        found += 1
        pins[f"{reg.path}/{reg.pin}"] = _rate(entry, cycles, saif.duration)
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
    sources, source_found, source_total = [], 0, 0
    q_pin = prepared.flop_pins[2]
    for module, prefix, inner in hierarchy(prepared, top):
        for source in prepared.sources.get(module, ()):
            path = prefix + source.instance
            sources.append(path)
            source_total += 1
            if source.constant is not None:
                pins[f"{path}/{q_pin}"] = (0.0, float(source.constant))
                source_found += 1
                continue
            nets = saif.nets.get(tuple(scope) + inner, {})
            entry = nets.get(plain_name(source.net))
            if entry is not None:
                source_found += 1
                pins[f"{path}/{q_pin}"] = _rate(entry, cycles, saif.duration)
    coverage = Coverage((found, len(regs)), (port_found, port_total),
                        (source_found, source_total))
    return Activity(pins, ports, tuple(sources)), coverage, missing
