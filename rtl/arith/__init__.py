"""Number formats: one :class:`ArithmeticFormat` object owns everything that depends on the
operand format (array arithmetic, output conversion, SIC and SEC number hooks).

Which configuration ``dtype`` names which format is the generator's business
(``gen.formats``); the blocks only ever see format objects.
"""

from .format import ArithmeticFormat
from .fp16 import Fp16Format
from .int8 import Int8Format

__all__ = ["ArithmeticFormat", "Int8Format", "Fp16Format"]
