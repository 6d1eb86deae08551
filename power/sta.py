"""OpenSTA power of one block: the activity script, the run and the report reader.

Activity is given the way Debian's OpenSTA 2.0.17 accepts it (it has no ``read_saif``):
``sta::set_power_pin_activity <pin> <toggles per cycle> <duty>`` on every flip-flop output
and activity source, ``set_power_activity -input_ports`` on every input port (never
``-global``, which would override both). OpenSTA propagates them through the logic.
"""

import dataclasses
import re

from synth.tools import run

from .netlist import SOURCE_PREFIX

__all__ = ["Power", "Activity", "power_script", "read_power", "run_power"]

SCRIPT = "power.tcl"
LOG = "power.log"


@dataclasses.dataclass(frozen=True)
class Power:
    """Power of one block in watts (sources excluded)."""

    internal: float
    switching: float
    leakage: float

    @property
    def total(self):
        return self.internal + self.switching + self.leakage

    def __sub__(self, other):
        return Power(self.internal - other.internal, self.switching - other.switching,
                     self.leakage - other.leakage)


@dataclasses.dataclass(frozen=True)
class Activity:
    """What to annotate: ``pins`` ``{pin path: (toggles per cycle, duty)}``, ``ports``
    ``{input port: (toggles per cycle, duty)}``, ``sources`` (instance paths of activity
    sources, whose power is subtracted)."""

    pins: dict
    ports: dict
    sources: tuple


def _braced(name):
    if any(c in name for c in "{}"):
        raise ValueError(f"cannot quote the netlist name {name!r} for OpenSTA")
    return "{" + name + "}"


def power_script(*, liberty, netlist, top, period_ns, activity):
    """OpenSTA Tcl: link ``top``, clock ``clk`` at ``period_ns``, annotate ``activity``
    (an :class:`Activity`, or ``None`` for OpenSTA's default activity) and report the
    power of the design and of the activity sources."""
    lines = [f"read_liberty {liberty}", f"read_verilog {netlist}", f"link_design {_braced(top)}",
             f"create_clock -name clk -period {period_ns} [get_ports {{clk}}]"]
    sources = ()
    if activity is not None:
        lines.append("proc focus_pin {path toggles duty} "
                     "{sta::set_power_pin_activity [get_pins $path] $toggles $duty}")
        lines.append("proc focus_port {name toggles duty} {set_power_activity -input_ports "
                     "[get_ports $name] -activity $toggles -duty $duty}")
        for port, (toggles, duty) in sorted(activity.ports.items()):
            lines.append(f"focus_port {_braced(port)} {toggles:.6g} {duty:.6g}")
        for pin, (toggles, duty) in activity.pins.items():
            lines.append(f"focus_pin {_braced(pin)} {toggles:.6g} {duty:.6g}")
        sources = activity.sources
    lines.append('puts "focus_power design"')
    lines.append("report_power -digits 6")
    if sources:
        lines.append('puts "focus_power sources"')
        lines.append("report_power -digits 6 -instances [get_cells [list "
                     + " ".join(_braced(s) for s in sources) + "]]")
    lines.append('puts "focus_power end"')
    return "\n".join(lines) + "\n"


_TOTAL_RE = re.compile(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", re.M)
_ROW_RE = re.compile(r"^\s*(-?[\d.e+-]+)\s+(-?[\d.e+-]+)\s+(-?[\d.e+-]+)\s+(-?[\d.e+-]+)\s+(\S+)\s*$",
                     re.M)


def read_power(text):
    """``(design Power, sources Power)`` from the OpenSTA log of :func:`power_script`.

    Raises
    ------
    ValueError
        On an OpenSTA error or a missing report (e.g. a crash).
    """
    errors = [line for line in text.splitlines() if line.startswith("Error")]
    if errors:
        raise ValueError("OpenSTA: " + "; ".join(errors[:5]))
    if "focus_power end" not in text:
        raise ValueError("OpenSTA stopped before the end of the power script")
    design_part = text.split("focus_power design", 1)[1].split("focus_power", 1)[0]
    total = _TOTAL_RE.search(design_part)
    if total is None:
        raise ValueError("OpenSTA printed no power total")
    design = Power(*(float(total.group(i)) for i in (1, 2, 3)))
    sources = Power(0.0, 0.0, 0.0)
    if "focus_power sources" in text:
        part = text.split("focus_power sources", 1)[1].split("focus_power end", 1)[0]
        for row in _ROW_RE.finditer(part):
            if SOURCE_PREFIX in row.group(5):
                sources = Power(sources.internal + float(row.group(1)),
                                sources.switching + float(row.group(2)),
                                sources.leakage + float(row.group(3)))
    return design, sources


def run_power(command, workdir, script, what):
    """Run OpenSTA on ``script`` in ``workdir``; returns ``(design - sources Power,
    sources Power, Usage)``."""
    (workdir / SCRIPT).write_text(script)
    usage = run([*command, "-exit", SCRIPT], cwd=workdir, log=LOG, what=what)
    design, sources = read_power((workdir / LOG).read_text())
    return design - sources, sources, usage
