"""``python -m power``: see :mod:`power.cli`."""

import sys

from .cli import main

sys.exit(main())
