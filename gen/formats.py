"""Configuration ``dtype`` names -> number-format objects of ``rtl.arith``.

The only place that maps a format's name to its hardware: blocks take format objects, and a
new format is one line here (plus its ``rtl.arith`` class and its golden model).
"""

from rtl.arith import Fp16Format, Int8Format

#: dtype name -> format class (constructed with its default unit latencies).
FORMATS = {
    "fp16": Fp16Format,
    "int8": Int8Format,
}


def number_format(dtype, *, mul_stages=None, add_stages=None):
    """The format object of configuration dtype ``dtype`` with its multiplier and adder
    pipelined ``mul_stages`` / ``add_stages`` deep (``None``: the format's default)."""
    try:
        cls = FORMATS[dtype]
    except KeyError:
        raise ValueError(f"dtype must be one of {', '.join(FORMATS)}, got {dtype!r}") from None
    return cls.with_stages(mul_stages=mul_stages, add_stages=add_stages)
