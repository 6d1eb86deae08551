"""Arithmetic formats of the systolic array (operand x operand -> accumulator).

A format object tells the array how wide its operands and accumulators are, how to build
its multiplier and adder, and their pipeline latencies. The array is written once against
this interface; new number formats plug in by registering here.
"""

from .format import ArithmeticFormat, UnsupportedFormat
from .fp16 import Fp16Format
from .int8 import Int8Format

__all__ = ["ArithmeticFormat", "UnsupportedFormat", "Int8Format", "Fp16Format", "get_format",
           "FORMATS"]

#: dtype name -> format class. A dtype listed in the configuration but missing here is not
#: yet implemented in hardware.
FORMATS = {
    "int8": Int8Format,
    "fp16": Fp16Format,
}


def get_format(dtype):
    """Return the arithmetic format object for configuration dtype ``dtype``.

    Raises
    ------
    UnsupportedFormat
        If ``dtype`` is a legal configuration value whose hardware is not implemented yet.
    """
    try:
        return FORMATS[dtype]()
    except KeyError:
        raise UnsupportedFormat(
            f"dtype {dtype!r} is not yet supported by the hardware generator "
            f"(implemented: {', '.join(sorted(FORMATS))})") from None
