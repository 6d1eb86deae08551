"""Legal ranges of the generator parameters, and the one check every block and the
configuration use.

:data:`LIMITS` is the single table of integer ranges; :func:`check_int` rejects anything else
(``True`` included) with a message that names the block, the parameter and the range, e.g.
``SystolicArray: rows must be an integer in [1, 256], got 0``.
"""

__all__ = ["LIMITS", "check_int", "check_window", "check_choice", "divisors"]

#: parameter -> (lowest, highest) legal value. Ranges that depend on other parameters
#: (``matchers`` <= candidates, ``window_vectors`` >= the smallest window span) are narrowed
#: by the caller through ``check_int(..., low=, high=)``.
LIMITS = {
    "rows": (1, 256),
    "cols": (1, 256),
    "vector_size": (1, 256),
    "m_tile": (1, 1 << 16),
    "window_vectors": (1, 1 << 16),
    "window_extent": (1, 8),
    "matchers": (1, 511),
    "lanes": (1, 64),
    "sort_width": (1, 1024),
    "max_tokens": (1, 1 << 20),
    "offset_bits": (2, 16),
    "position_bits": (1, 32),
    "length": (1, 4096),
    "queue_depth": (1, 1 << 20),
}


def check_int(block, name, value, *, low=None, high=None, limit=None):
    """Return ``value`` if it is an ``int`` (not a ``bool``) within the legal range.

    Parameters
    ----------
    block : str or None
        Prefix of the message (the block's class name), ``None`` for none.
    name : str
        Parameter name as the caller knows it.
    value
        The value to check.
    low, high : int, optional
        Narrow the range of :data:`LIMITS` (``limit`` or ``name``) on either side.
    limit : str, optional
        Key of :data:`LIMITS` when it differs from ``name`` (``scatter_lanes`` -> ``lanes``).
    """
    table_low, table_high = LIMITS[limit or name]
    low = table_low if low is None else max(low, table_low)
    high = table_high if high is None else min(high, table_high)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        prefix = f"{block}: " if block else ""
        raise ValueError(f"{prefix}{name} must be an integer in [{low}, {high}], got {value!r}")
    return value


def check_window(block, window):
    """Return ``window`` as a tuple of three extents in :data:`LIMITS` ``window_extent`` with at
    least one candidate neighbour (``bf * bh * bw > 1``)."""
    low, high = LIMITS["window_extent"]
    prefix = f"{block}: " if block else ""
    if (not isinstance(window, (tuple, list)) or len(window) != 3
            or not all(isinstance(w, int) and not isinstance(w, bool) and low <= w <= high
                       for w in window)):
        raise ValueError(f"{prefix}window must be a tuple of 3 integers in [{low}, {high}], "
                         f"got {window!r}")
    window = tuple(window)
    if window[0] * window[1] * window[2] < 2:
        raise ValueError(f"{prefix}window {window} has no candidate neighbours; at least one "
                         "extent must be 2 or more")
    return window


def check_choice(block, name, value, choices, context=""):
    """Return ``value`` if it is one of ``choices`` (a bool is never one); ``context`` (e.g.
    ``"for length 8"``) says what the choices depend on."""
    if isinstance(value, bool) or value not in choices:
        prefix = f"{block}: " if block else ""
        where = f" {context}" if context else ""
        raise ValueError(f"{prefix}{name} must be one of {', '.join(map(str, choices))}"
                         f"{where}, got {value!r}")
    return value


def divisors(value):
    """The positive divisors of ``value``, ascending."""
    return [d for d in range(1, value + 1) if value % d == 0]
