"""Elaborating a block to Verilog, including the shared modules it instantiates."""

from amaranth.back import verilog

from .processing_element import shared_definitions


def convert(component, name):
    """Reproducible Verilog of ``component`` as module ``name``, plus shared submodules."""
    text = verilog.convert(component, name=name, emit_src=False)
    return text + shared_definitions(text)
