"""``python -m perf``: the system model's command line (see :mod:`perf.cli`)."""

import sys

from perf.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        sys.exit(1)
