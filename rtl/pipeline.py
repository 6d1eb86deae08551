"""Small pipeline-building helpers shared by the blocks."""

from amaranth.hdl import Signal


def delay(m, value, cycles, *, name, en=None):
    """Return ``value`` delayed by ``cycles`` registers of ``m``'s sync domain.

    With ``en`` the registers move only on cycles where ``en`` is high (a stallable pipeline);
    without it they are free-running. ``cycles = 0`` returns ``value`` itself.
    """
    for i in range(cycles):
        stage = Signal.like(value, name=f"{name}_d{i}")
        if en is None:
            m.d.sync += stage.eq(value)
        else:
            with m.If(en):
                m.d.sync += stage.eq(value)
        value = stage
    return value
