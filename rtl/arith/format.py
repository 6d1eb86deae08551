"""The interface every arithmetic format of the systolic array implements."""

from amaranth.hdl import Shape


class UnsupportedFormat(NotImplementedError):
    """A configuration names a number format whose hardware does not exist yet."""


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
    """

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

        Ports ``en``, ``a`` (accumulator), ``result`` (output), optionally runtime scale ports
        ``multiplier`` and ``shift``; attribute ``latency`` (enabled ticks).
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"
