"""Configuration ``dtype`` names -> the golden number formats testbenches check against.

Testbenches receive their configuration's ``dtype`` as a string (``runner.tb_params``); this
is the only place outside ``gen.formats`` (which does the same for the hardware formats of
``rtl.arith``) that turns the name into a format object. Everything format-dependent is then
read from that object (``golden.arith.NumberFormat``), so a new format is one line here.
"""

from golden.arith import Fp16Arith, Int8Arith

#: dtype name -> golden number format (stateless: the class is the format object)
GOLDEN_FORMATS = {arith.name: arith for arith in (Fp16Arith, Int8Arith)}


def golden_format(dtype):
    """The golden number format of configuration dtype ``dtype``."""
    try:
        return GOLDEN_FORMATS[dtype]
    except KeyError:
        raise ValueError(f"dtype must be one of {', '.join(GOLDEN_FORMATS)}, "
                         f"got {dtype!r}") from None
