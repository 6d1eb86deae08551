"""``python -m dse.isolated OUT MODULE [ARGS ...]``: run a benchmark CLI with its output folder in OUT.

The ``sim_cocotb`` benchmarks write their JSON and markdown to ``<project>/build/bench/``
(``PROJECT_ROOT / "build" / "bench"``, computed in their ``main``) and have no ``--out``
option yet, so two sweep tasks running the same benchmark would overwrite each other's files.
This adapter sets the benchmark module's ``PROJECT_ROOT`` to ``OUT`` before calling its
``main``: the benchmark writes to ``OUT/build/bench/`` (and its cocotb test folders there),
while the Verilator build cache (``sim_cocotb.runner``, content-keyed and locked) stays
shared. Remove it once the benchmarks take ``--out``.
"""

import importlib
import sys
from pathlib import Path


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2:
        print("usage: python -m dse.isolated OUT MODULE [ARGS ...]", file=sys.stderr)
        return 2
    out, name, args = Path(argv[0]).resolve(), argv[1], argv[2:]
    module = importlib.import_module(name)
    if not hasattr(module, "PROJECT_ROOT") or not hasattr(module, "main"):
        print(f"error: {name} has no PROJECT_ROOT / main to redirect", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    module.PROJECT_ROOT = out
    sys.argv = [name, *args]
    result = module.main(args)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
