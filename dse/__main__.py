"""``python -m dse``: see :mod:`dse.cli`."""

import sys

from .cli import main

sys.exit(main())
