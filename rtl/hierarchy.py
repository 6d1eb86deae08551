"""How a container block places its sub-blocks: inline, or as instances of shared modules.

Every container (``SystolicArray`` and its processing elements, ``FocusEngine``,
``SimilarityGather``, ``SemanticConcentrator``) builds its sub-blocks through a
:class:`Hierarchy`::

    self.array = hierarchy.build(SystolicArray, fmt, rows=rows, cols=cols)

The default, :data:`INLINE`, simply constructs the sub-block: Amaranth then elaborates it inside
the container (what Amaranth's own simulator needs). The generator (``gen.library``) passes a
hierarchy that emits each *distinct* sub-block once as its own Verilog module and places a
:class:`ModuleInstance` of it instead, so a 32x32 array is one processing-element module
instantiated 1024 times and the engine instantiates the array module that was generated for
the array block.
"""

import inspect

from amaranth.hdl import ClockSignal, Instance, ResetSignal, Signal, ValueCastable
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["Hierarchy", "INLINE", "ModuleInstance", "construct", "port_name", "signal_ports"]


class Hierarchy:
    """Builds sub-blocks; this base class places them inline."""

    def build(self, cls, /, *args, **kwargs):
        """``cls(*args, **kwargs)``, handing this hierarchy on to a container class.

        A class whose constructor takes a ``hierarchy`` keyword builds its own sub-blocks
        through it, so the choice made here reaches every level.
        """
        return construct(cls, self, args, kwargs)


#: Sub-blocks elaborated inside their container.
INLINE = Hierarchy()


def construct(cls, hierarchy, args, kwargs):
    """``cls(*args, **kwargs)`` with ``hierarchy=`` added when the constructor takes it."""
    if "hierarchy" in inspect.signature(cls).parameters:
        kwargs = {**kwargs, "hierarchy": hierarchy}
    return cls(*args, **kwargs)


def port_name(path):
    """Verilog port name Amaranth gives the signature member at ``path``
    (``("acts", "payload")`` -> ``acts__payload``)."""
    return "__".join(str(part) for part in path)


def signal_ports(component):
    """``[(path, member, signal)]`` of the ports of ``component`` that are signals.

    Views (payload layouts) are given as their underlying signal. Members a stream signature
    fixes to a constant (``valid`` of an ``always_valid`` stream, ``ready`` of an
    ``always_ready`` one) are not ports of the emitted module.
    """
    ports = []
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        if isinstance(value, Signal):
            ports.append((path, member, value))
    return ports


class ModuleInstance(wiring.Component):
    """Stands in for ``component``, emitted elsewhere as Verilog module ``module``.

    Same signature as ``component``; attribute reads that are not ports (``latency``,
    ``reload_gap``, ``storage_bits``...) are answered by ``component``, so a container uses it
    exactly like the component itself. Elaborates to an instance of ``module`` whose ports
    are named as Amaranth names the component's ports (:func:`port_name`), plus ``clk`` and
    ``rst`` where the emitted module has them.

    Parameters
    ----------
    component : wiring.Component
        The block this instance stands for (only its signature and attributes are used).
    module : str
        Verilog module name.
    ports : callable
        ``ports()`` returns the port names of the emitted module. Asked at elaboration, so
        the module may be emitted after this object is created (but before its container).
    """

    def __init__(self, component, module, ports):
        component._MustUse__silence = True    # stands in; elaborated on its own elsewhere
        self._MustUse__silence = True         # a generator may build it only to record it
        self._component = component
        self.module = module
        self._ports = ports
        super().__init__(component.signature)
        self._proxy = True    # the ports exist now; other attributes come from `component`

    def __getattr__(self, name):
        # Only reached for attributes this object lacks: the component's parameters.
        if name.startswith("__") or "_proxy" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self._component, name)

    @property
    def component(self):
        """The block this instance stands for."""
        return self._component

    def elaborate(self, platform):
        emitted = set(self._ports())
        ports = {}
        for path, member, value in signal_ports(self):
            name = port_name(path)
            if name not in emitted:
                raise ValueError(f"module {self.module} has no port {name}")
            ports[("i_" if member.flow == In else "o_") + name] = value
        for name, value in (("clk", ClockSignal()), ("rst", ResetSignal())):
            if name in emitted:
                ports["i_" + name] = value
        return Instance(self.module, **ports)
