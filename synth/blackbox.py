"""Generating the array with its processing elements as instances of one shared module.

Elaborating a paper-sized array in Amaranth builds every PE's logic 1024 times (for fp16 this
takes many minutes and many GB). For the hierarchical method the flow only needs each distinct
PE once: inside :func:`processing_elements_as_instances`, the systolic array builds stub PEs
that instantiate a module ``focus_pe_<dtype>_<hash>``; :func:`pe_definitions` elaborates that
module once from the real :class:`rtl.processing_element.ProcessingElement`. The generator
(``gen.cli.generate``) is used unchanged.

The stub keeps every PE port, so edge PEs (top row: ``psum_in`` is zero; last column:
``act_out`` unused) are counted as interior PEs; ``--real-pes`` measures the difference.
"""

import contextlib
import hashlib
from unittest import mock

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from rtl import systolic_array
from rtl.processing_element import ProcessingElement


def pe_module_name(fmt):
    """Verilog module name of the PE for format object ``fmt`` (its repr fixes latencies)."""
    digest = hashlib.sha256(repr(fmt).encode()).hexdigest()[:6]
    return f"focus_pe_{fmt.name}_{digest}"


class InstancePE(wiring.Component):
    """Same ports as :class:`ProcessingElement`; its body is an instance of ``module``."""

    def __init__(self, fmt, module):
        self._module = module
        template = ProcessingElement(fmt)
        template._MustUse__silence = True  # built only for its signature, never elaborated
        super().__init__(template.signature)

    def elaborate(self, platform):
        m = Module()
        ports = {("i_" if member.flow == In else "o_") + name: getattr(self, name)
                 for name, member in self.signature.members.items()}
        m.submodules.pe = Instance(self._module, i_clk=ClockSignal(), i_rst=ResetSignal(),
                                   **ports)
        return m


@contextlib.contextmanager
def processing_elements_as_instances():
    """Context in which :class:`rtl.systolic_array.SystolicArray` builds :class:`InstancePE`.

    Yields
    ------
    dict
        Module name -> format object of every PE module referenced so far (filled while
        blocks are elaborated).
    """
    if not hasattr(systolic_array, "ProcessingElement"):
        raise RuntimeError("rtl.systolic_array no longer imports ProcessingElement; "
                           "use --real-pes or update synth/blackbox.py")
    formats = {}

    def build(fmt):
        name = pe_module_name(fmt)
        formats[name] = fmt
        return InstancePE(fmt, name)

    with mock.patch.object(systolic_array, "ProcessingElement", build):
        yield formats


def pe_definition(fmt):
    """Verilog of one standalone PE for ``fmt``, named :func:`pe_module_name`."""
    return verilog.convert(ProcessingElement(fmt), name=pe_module_name(fmt), emit_src=False)


def pe_definitions(text, formats):
    """Verilog definitions of the PE modules that ``text`` instantiates."""
    return "".join(pe_definition(fmt) for name, fmt in sorted(formats.items())
                   if f"{name} " in text)
