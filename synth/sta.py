"""OpenSTA on a mapped block: script, netlist preparation and the result reader.

A block is timed on the mapped netlists of all the modules it needs, linked from its top
(``link_design``): OpenSTA sees the whole hierarchy and times paths across module boundaries.
"""

import dataclasses
import json
import re

from .netlist import BufferingResult

STA_NETLIST = "sta_netlist.v"
STA_SCRIPT = "sta.tcl"
STA_LOG = "sta.log"


@dataclasses.dataclass(frozen=True)
class TimingResult:
    """Worst setup path of one block at the liberty's corner.

    Attributes
    ----------
    period_ns : float
        Clock period constrained in OpenSTA.
    worst_slack_ns : float or None
        ``None`` when the block has no constrained path.
    startpoint, endpoint : str
        Ends of the critical path.
    stages : int
        Cells on the critical path.
    buffering : BufferingResult
        Fanout buffer trees added before timing.
    sram_instances : int
        Memory blackboxes removed from the timed netlist (their paths are not timed).
    seconds : float
        OpenSTA wall-clock time.
    instances : int or None
        Instances OpenSTA linked below the top (leaf cells and module instances of the whole
        hierarchy), as OpenSTA counts them.
    cpu_seconds : float or None
        OpenSTA CPU time.
    prepare_seconds : float or None
        Wall-clock time of preparing the netlist (concatenation, port splitting, SRAM
        removal, fanout buffering) before OpenSTA.
    reused : bool
        Read from an earlier run with the same inputs (:func:`load_timing`).
    """

    period_ns: float
    worst_slack_ns: object
    startpoint: str
    endpoint: str
    stages: int
    buffering: BufferingResult
    sram_instances: int
    seconds: float
    instances: object = None
    cpu_seconds: object = None
    prepare_seconds: object = None
    reused: bool = False

    @property
    def critical_ns(self):
        """Minimum clock period: ``period - worst slack`` (includes setup time)."""
        if self.worst_slack_ns is None:
            return None
        return self.period_ns - self.worst_slack_ns

    @property
    def fmax_mhz(self):
        critical = self.critical_ns
        return 1000.0 / critical if critical else None


def remove_instances(text, cell_type):
    """Drop every instance of ``cell_type`` from a Yosys-written netlist.

    Returns
    -------
    text : str
    removed : int
    """
    out, removed, skipping = [], 0, False
    head = re.compile(r"^\s+(?:\\\S*)?" + re.escape(cell_type) + r"\b")
    for line in text.split("\n"):
        if not skipping and head.match(line):
            skipping, removed = True, removed + 1
        if skipping:
            skipping = line.strip() != ");"
            continue
        out.append(line)
    return "\n".join(out), removed


def sta_script(*, netlist, liberty, top, period_ns, clock_port, buffer_cell, output_load_pf):
    """OpenSTA Tcl: all inputs arrive at the clock edge through ``buffer_cell`` (as if from
    a register), every output is captured at the next edge; report the worst setup path."""
    clock = (f"create_clock -name clk -period {period_ns} [get_ports {{{clock_port}}}]"
             if clock_port else f"create_clock -name clk -period {period_ns}")
    inputs = ("[delete_from_list [all_inputs] [get_ports {" + clock_port + "}]]"
              if clock_port else "[all_inputs]")
    return "\n".join([
        f"read_liberty {liberty}",
        f"read_verilog {netlist}",
        f"link_design {{{top}}}",
        clock,
        f"set focus_inputs {inputs}",
        "set_input_delay 0 -clock clk $focus_inputs",
        "set_output_delay 0 -clock clk [all_outputs]",
        f"set_driving_cell -lib_cell {buffer_cell} $focus_inputs",
        f"set_load {output_load_pf} [all_outputs]",
        # every instance below the top, leaf cells and module instances (the count includes
        # the top instance itself)
        'puts "focus_instances [expr {[sta::network_instance_count] - 1}]"',
        "report_checks -path_delay max -digits 3",
        "report_worst_slack",
        "",
    ])


_INSTANCES_RE = re.compile(r"^focus_instances (\d+)$", re.M)
_SLACK_RE = re.compile(r"^worst slack\s+(-?[\d.]+|INF)", re.M)
_POINT_RE = re.compile(r"^(Startpoint|Endpoint):\s*(.*)$", re.M)
_STAGE_RE = re.compile(r"^\s*-?[\d.]+\s+-?[\d.]+\s+[v^]\s+\S+/\S+\s+\((\w+)\)\s*$", re.M)


def check_errors(text):
    """Raise ``ValueError`` quoting the first errors of an OpenSTA log (OpenSTA exits 0 on
    script errors)."""
    errors = [line for line in text.splitlines() if line.startswith("Error")]
    if errors:
        raise ValueError("OpenSTA: " + "; ".join(errors[:5]))


def read_sta_log(text):
    """``(worst_slack or None, startpoint, endpoint, stages)`` from the OpenSTA log.

    Raises
    ------
    ValueError
        When OpenSTA reported an error (it exits 0 on script errors).
    """
    check_errors(text)
    if "No paths found" in text:
        return None, "", "", 0
    slack = _SLACK_RE.search(text)
    if slack is None or slack.group(1) == "INF":
        return None, "", "", 0
    points = {key: value.split(" (")[0].strip() for key, value in _POINT_RE.findall(text)}
    # stages: the cell pins of the data path, less the launching clock pin and the capturing
    # pin (the last line), i.e. one per cell the data passes through.
    report = text[:slack.start()].split("data arrival time")[0]
    pins = [line for line in report.splitlines()
            if _STAGE_RE.match(line) and "/CLK " not in line]
    stages = max(len(pins) - 1, 0)
    return (float(slack.group(1)), points.get("Startpoint", ""), points.get("Endpoint", ""),
            stages)


def read_instance_count(text):
    """Instances OpenSTA linked (the ``focus_instances`` line of :func:`sta_script`), or
    ``None`` when the log has no such line."""
    match = _INSTANCES_RE.search(text)
    return int(match.group(1)) if match else None


STA_STAMP = "sta.stamp"
STA_RESULT = "timing.json"


def save_timing(workdir, stamp, timing):
    """Store ``timing`` and the ``stamp`` of its inputs in ``workdir``."""
    (workdir / STA_RESULT).write_text(json.dumps(dataclasses.asdict(timing), indent=1) + "\n")
    (workdir / STA_STAMP).write_text(stamp)


def load_timing(workdir, stamp):
    """The :class:`TimingResult` stored in ``workdir`` when its stamp is ``stamp``, else
    ``None``."""
    stamp_path, result_path = workdir / STA_STAMP, workdir / STA_RESULT
    if not (stamp_path.exists() and result_path.exists()) or stamp_path.read_text() != stamp:
        return None
    data = json.loads(result_path.read_text())
    data["buffering"] = BufferingResult(**data["buffering"])
    return dataclasses.replace(TimingResult(**data), reused=True)
