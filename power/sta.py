"""OpenSTA power of one block: the activity script, the run and the report reader.

Activity is given the way Debian's OpenSTA 2.0.17 accepts it (it has no ``read_saif``):
``sta::set_power_pin_activity <pin> <toggles per cycle> <duty>`` on every flip-flop output
and activity source, ``set_power_activity -input_ports`` on every input port (never
``-global``, which would override both). OpenSTA propagates them through the logic.

That version ignores an activity set on a flip-flop's output: its propagation starts at the
graph's roots only, and when it meets a register input it had not seen before it derives the
register's output from the data input, overwriting the annotation (measured: all-zero and
simulated register activities gave the same power to 0.1 %). The script therefore

1. disables the clock-to-output arcs of the sequential cells (``set_disable_timing``), so the
   annotated outputs are roots from which propagation starts;
2. annotates the register's other inputs as well (a placeholder the propagation overwrites),
   so no register input is "unseen" and no output is re-derived;
3. has OpenSTA compute the activities (a one-instance ``report_power``), then re-enables the
   arcs (clocks reach the logic again for the power of every cell) and reports.

Checked: all-zero register activity gives a power close to the clock-only power, and the
recorded activity a clearly higher one (tests/test_power.py).
"""

import dataclasses
import hashlib
import re

from synth.sta import check_errors
from synth.tools import Usage, run

from .netlist import SOURCE_PREFIX

__all__ = ["Power", "Activity", "power_script", "read_power", "run_power"]

SCRIPT = "power.tcl"
LOG = "power.log"
STAMP = "power.stamp"


@dataclasses.dataclass(frozen=True)
class Power:
    """Power of one block in watts (sources excluded)."""

    internal: float
    switching: float
    leakage: float

    @property
    def total(self):
        return self.internal + self.switching + self.leakage

    def __add__(self, other):
        return Power(self.internal + other.internal, self.switching + other.switching,
                     self.leakage + other.leakage)

    def __sub__(self, other):
        return Power(self.internal - other.internal, self.switching - other.switching,
                     self.leakage - other.leakage)


@dataclasses.dataclass(frozen=True)
class Activity:
    """What to annotate: ``pins`` ``{pin path: (toggles per cycle, duty)}`` (register
    outputs and activity sources), ``ports`` ``{input port: (toggles per cycle, duty)}``,
    ``inputs`` (register inputs given a placeholder) and ``arcs`` (``(cell, clock pin, output pin)`` of the sequential cells)."""

    pins: dict
    ports: dict
    inputs: dict = dataclasses.field(default_factory=dict)
    arcs: tuple = ()


def _braced(name):
    if any(c in name for c in "{}"):
        raise ValueError(f"cannot quote the netlist name {name!r} for OpenSTA")
    return "{" + name + "}"


def power_script(*, liberty, netlist, top, period_ns, activity):
    """OpenSTA Tcl: link ``top``, clock ``clk`` at ``period_ns``, annotate ``activity``
    (an :class:`Activity`, or ``None`` for OpenSTA's default activity) and print the power
    of every leaf cell summed per group: the first instance below the top (``array/...``),
    ``""`` for the top's own cells, ``@sources`` for the activity sources. A cell whose power
    OpenSTA computes as NaN (it happens for single cells) is counted, not summed."""
    lines = [f"read_liberty {liberty}", f"read_verilog {netlist}", f"link_design {_braced(top)}",
             f"create_clock -name clk -period {period_ns} [get_ports {{clk}}]"]
    if activity is not None:
        arcs = [f"[get_lib_cells {{*/{cell}}}] -from {clock} -to {out}"
                for cell, clock, out in activity.arcs]
        lines += [f"set_disable_timing {arc}" for arc in arcs]
        lines.append("proc focus_pin {path toggles duty} "
                     "{sta::set_power_pin_activity [get_pins $path] $toggles $duty}")
        lines.append("proc focus_port {name toggles duty} {set_power_activity -input_ports "
                     "[get_ports $name] -activity $toggles -duty $duty}")
        for port, (toggles, duty) in sorted(activity.ports.items()):
            lines.append(f"focus_port {_braced(port)} {toggles:.6g} {duty:.6g}")
        for pin, (toggles, duty) in activity.inputs.items():
            lines.append(f"focus_pin {_braced(pin)} {toggles:.6g} {duty:.6g}")
        for pin, (toggles, duty) in activity.pins.items():
            lines.append(f"focus_pin {_braced(pin)} {toggles:.6g} {duty:.6g}")
        if activity.pins:
            first = next(iter(activity.pins)).rsplit("/", 1)[0]
            lines.append(f"report_power -instances [get_cells {_braced(first)}] > /dev/null")
        lines += [f"unset_disable_timing {arc}" for arc in arcs]
    lines.append(_GROUP_SUMS)
    return "\n".join(lines) + "\n"


_GROUP_SUMS = """set focus_corner [sta::cmd_corner]
array set focus_sum {}
set focus_nan 0
foreach focus_cell [get_cells -hierarchical *] {
  set focus_name [get_full_name $focus_cell]
  set focus_slash [string first / $focus_name]
  if {[string first SOURCE $focus_name] >= 0} {
    set focus_group @sources
  } elseif {$focus_slash < 0} {
    set focus_group {}
  } else {
    set focus_group [string range $focus_name 0 [expr {$focus_slash - 1}]]
  }
  lassign [sta::instance_power $focus_cell $focus_corner] focus_i focus_s focus_l
  if {$focus_i != $focus_i || $focus_s != $focus_s || $focus_l != $focus_l} {
    incr focus_nan
    continue
  }
  if {![info exists focus_sum($focus_group)]} { set focus_sum($focus_group) {0 0 0} }
  lassign $focus_sum($focus_group) focus_a focus_b focus_c
  set focus_sum($focus_group) [list [expr {$focus_a + $focus_i}] [expr {$focus_b + $focus_s}] \\
                                    [expr {$focus_c + $focus_l}]]
}
foreach focus_group [lsort [array names focus_sum]] {
  puts "focus_group {$focus_group} $focus_sum($focus_group)"
}
puts "focus_nan $focus_nan"
puts "focus_power end"
""".replace("SOURCE", SOURCE_PREFIX)

_GROUP_RE = re.compile(r"^focus_group \{([^}]*)\} (\S+) (\S+) (\S+)$", re.M)
_NAN_RE = re.compile(r"^focus_nan (\d+)$", re.M)


def read_power(text):
    """``({group: Power}, NaN cells)`` from the OpenSTA log of :func:`power_script`.

    Raises
    ------
    ValueError
        On an OpenSTA error or a missing report (e.g. a crash).
    """
    check_errors(text)
    if "focus_power end" not in text:
        raise ValueError("OpenSTA stopped before the end of the power script")
    groups = {m.group(1): Power(float(m.group(2)), float(m.group(3)), float(m.group(4)))
              for m in _GROUP_RE.finditer(text)}
    return groups, int(_NAN_RE.search(text).group(1))


def _digest(script, workdir):
    """Digest of the script and of every file it reads in ``workdir`` (netlist, liberty)."""
    digest = hashlib.sha256(script.encode())
    for name in sorted(set(re.findall(r"^read_(?:liberty|verilog) (\S+)$", script, re.M))):
        path = workdir / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"missing")
    return digest.hexdigest()


def run_power(command, workdir, script, what):
    """Run OpenSTA on ``script`` in ``workdir``; returns ``({group: Power}, NaN cells,
    Usage)``. A completed run of the same script on the same files is reused (its log is
    read again; Usage then reports 0 s)."""
    stamp = _digest(script, workdir)
    stamp_file, log = workdir / STAMP, workdir / LOG
    if stamp_file.exists() and stamp_file.read_text() == stamp and log.exists():
        try:
            groups, nan = read_power(log.read_text())
            return groups, nan, Usage(0.0, 0.0)
        except ValueError:
            pass
    stamp_file.unlink(missing_ok=True)
    (workdir / SCRIPT).write_text(script)
    usage = run([*command, "-exit", SCRIPT], cwd=workdir, log=LOG, what=what)
    groups, nan = read_power(log.read_text())
    stamp_file.write_text(stamp)
    return groups, nan, usage
