"""Read a SAIF file (Verilator ``--trace-saif``): toggle counts and time high per signal bit.

Only what switching activity needs is kept: the duration, and per instance scope the nets'
``T1`` (time at 1) and ``TC`` (toggle count). Scopes are tuples of instance names from the
root (``("focus_engine_1234abcd", "array", "pe_0_0")``); net names are unescaped
(``psum_out[3]``, ``$5[0]``).
"""

import dataclasses
import re

__all__ = ["Saif", "read_saif"]

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclasses.dataclass(frozen=True)
class Saif:
    """Activity of one simulation run.

    Attributes
    ----------
    duration : int
        Simulated time in ``timescale`` units.
    timescale : str
        E.g. ``"1ps"``.
    nets : dict
        ``{scope: {net: (t1, tc)}}``.
    """

    duration: int
    timescale: str
    nets: dict

    def scope(self, path):
        """``{net: (t1, tc)}`` of the instance ``path`` (a tuple); a clear error names the
        scopes that exist when it does not."""
        try:
            return self.nets[tuple(path)]
        except KeyError:
            near = sorted("/".join(s) for s in self.nets if len(s) <= len(path))[:8]
            raise ValueError(f"SAIF has no instance {'/'.join(path)}; it has "
                             f"{', '.join(near)} ...") from None

    def cycles(self, clock_scope, clock="clk"):
        """Clock cycles of the run: half the toggles of ``clock`` in ``clock_scope``."""
        return self.scope(clock_scope)[clock][1] // 2


def _unescape(name):
    return name.replace("\\", "")


def read_saif(path):
    """Parse the SAIF file at ``path`` into a :class:`Saif`."""
    text = open(path).read()
    tokens = _TOKEN.findall(text.split("(SAIFILE", 1)[1] if "(SAIFILE" in text else text)
    duration, timescale, nets = None, "", {}
    scope, stack, i, n = [], [], 0, len(tokens)
    while i < n:
        token = tokens[i]
        if token == "(":
            head = tokens[i + 1]
            if head == "INSTANCE":
                name = _unescape(tokens[i + 2])
                stack.append("instance")
                if name != "$rootio" or scope:
                    scope.append(name)
                else:
                    stack[-1] = "root"
                nets.setdefault(tuple(scope), {})
                i += 3
                continue
            if head == "DURATION":
                duration = int(tokens[i + 2])
            elif head == "TIMESCALE":
                timescale = tokens[i + 2]
            if head in ("DURATION", "TIMESCALE", "SAIFVERSION", "DIRECTION", "PROGRAM_NAME",
                        "DIVIDER", "VERSION", "DATE", "DESIGN", "VENDOR"):
                depth = 1
                i += 2
                while depth:
                    depth += {"(": 1, ")": -1}.get(tokens[i], 0)
                    i += 1
                continue
            if head == "NET":
                stack.append("net")
                i += 2
                continue
            # a net entry: (name (T0 x) (T1 x) ... (TC x))
            name = _unescape(head)
            values, j = {}, i + 2
            while tokens[j] != ")":
                # tokens[j] == "(", key, value, ")"
                values[tokens[j + 1]] = int(tokens[j + 2])
                j += 4
            nets[tuple(scope)][name] = (values.get("T1", 0), values.get("TC", 0))
            i = j + 1
            continue
        if token == ")":
            kind = stack.pop() if stack else None
            if kind == "instance":
                scope.pop()
        i += 1
    if duration is None:
        raise ValueError(f"{path}: not a SAIF file (no DURATION)")
    return Saif(duration, timescale, nets)
