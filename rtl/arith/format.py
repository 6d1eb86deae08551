"""The number-format interface: everything in the hardware that depends on the operand format.

One :class:`ArithmeticFormat` object owns the array's arithmetic (operand and accumulator
shapes, multiplier, adder, latencies), the output conversion and its runtime scale registers,
the SIC number hooks (:meth:`ArithmeticFormat.sic_numbers`) and the SEC importance key
(:attr:`ArithmeticFormat.importance_width`, :meth:`ArithmeticFormat.sanitize_importance`).
Blocks take the format object and never branch on its name, so a new number format is one new
subclass (and its golden model, and one line in ``gen.formats``).
"""

from amaranth.hdl import Shape


class ArithmeticFormat:
    """Operand and accumulator format of a multiply-accumulate datapath.

    Subclasses set the class attributes and implement :meth:`multiply` and :meth:`add`.
    Both build a pipeline inside the caller's module whose registers advance only on ticks
    where ``en`` is high, so a stalled array holds its state.

    Attributes
    ----------
    name : str
        Configuration dtype name (``"int8"``, ``"fp16"``).
    operand_shape : Shape
        Shape of one operand (activation or weight) as raw bits.
    accumulator_shape : Shape
        Shape of one partial sum as raw bits.
    accumulator_zero : int
        Bit pattern of the additive identity the top row starts from.
    mul_latency : int
        Ticks from operands to product (0: combinational).
    add_latency : int
        Ticks from addends to sum (at least 1: the partial-sum register of a PE).
    output_shape : Shape
        Shape of a finished output element (the next layer's operand format).
    output_latency : int
        Ticks of the unit :meth:`output_converter` returns.
    scale_ports : dict
        Runtime output-scale registers of the converter, name -> shape (empty when the
        conversion has none); blocks that convert outputs expose them as ``In`` ports.
    importance_width : int
        Bits of an SEC importance key (an attention probability in this format).
    """

    scale_ports = {}

    @classmethod
    def stage_choices(cls):
        """Legal pipeline depths, ``{"mul_stages": (...), "add_stages": (...)}``."""
        return {"mul_stages": (cls.mul_latency,), "add_stages": (cls.add_latency,)}

    @classmethod
    def with_stages(cls, *, mul_stages=None, add_stages=None):
        """The format with the multiplier and adder pipelined ``mul_stages`` and
        ``add_stages`` deep (``None``: the default)."""
        for name, value in (("mul_stages", mul_stages), ("add_stages", add_stages)):
            choices = cls.stage_choices()[name]
            if value is not None and (isinstance(value, bool) or value not in choices):
                default = getattr(cls(), "mul_latency" if name == "mul_stages" else "add_latency")
                raise ValueError(f"{name} must be one of {', '.join(map(str, choices))} for "
                                 f"{cls.name} (default {default}), got {value!r}")
        return cls._staged(mul_stages, add_stages)

    @classmethod
    def _staged(cls, mul_stages, add_stages):
        return cls()

    name: str
    operand_shape: Shape
    accumulator_shape: Shape
    accumulator_zero: int = 0
    mul_latency: int
    add_latency: int

    @property
    def operand_width(self):
        return Shape.cast(self.operand_shape).width

    @property
    def accumulator_width(self):
        return Shape.cast(self.accumulator_shape).width

    def multiply(self, m, a, b, en):
        """Return ``a * b`` in accumulator format, valid ``mul_latency`` ticks later."""
        raise NotImplementedError

    def add(self, m, a, b, en):
        """Return ``a + b`` in accumulator format, valid ``add_latency`` ticks later."""
        raise NotImplementedError

    def output_converter(self):
        """A Component converting one accumulator to ``output_shape``.

        Ports ``en``, ``a`` (accumulator), ``result`` (output) and the :attr:`scale_ports`;
        attribute ``latency`` (enabled ticks).
        """
        raise NotImplementedError

    def sic_numbers(self, *, vector_size, m_tile):
        """The :class:`~rtl.arith.sic_numbers.SicNumbers` hooks of a gather unit of
        ``vector_size``-element vectors and tiles of up to ``m_tile`` tokens."""
        raise NotImplementedError

    def sanitize_importance(self, value):
        """``(key, invalid)``: the unsigned importance key of a raw probability ``value``
        (:attr:`importance_width` bits) and whether it was not a probability (it then
        becomes key 0, the least important). Combinational; unsigned comparison of keys
        must order them like the probabilities."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"
