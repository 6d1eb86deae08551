"""Generating the Verilog of a configuration, and designs for simulation and synthesis.

:func:`generate` writes one file per distinct module (``<module>.v``) and ``manifest.json``;
:func:`design` and :func:`block_design` return the same modules in memory for the simulation
runner and the synthesis flow. Output is reproducible byte for byte.
"""

import dataclasses
import json
import re
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import data

from .blocks import Derived, select_blocks
from .library import ModuleLibrary, default_cache, generator_fingerprint

_PORT_RE = re.compile(r"^\s*(input|output|inout)\s+(?:(?:wire|reg|signed)\s+)*"
                      r"(?:\[(\d+):(\d+)\]\s+)?(\w+)\s*;", re.M)
_MODULE_RE = re.compile(r"^module\s+(\S+?)\s*\(", re.M)


def verilog_ports(text, module):
    """``[{"name", "direction", "width"}]`` of ``module`` in generated Verilog ``text``."""
    start = text.index(f"module {module}(")
    end = text.index("endmodule", start)
    ports = []
    for direction, msb, lsb, name in _PORT_RE.findall(text[start:end]):
        width = int(msb) - int(lsb) + 1 if msb else 1
        ports.append({"name": name, "direction": direction, "width": width})
    return ports


def defined_modules(text):
    """Names of the modules Verilog ``text`` defines (escaped names without the backslash)."""
    return [name.lstrip("\\") for name in _MODULE_RE.findall(text)]


def _layout_fields(shape, offset=0, prefix=""):
    """Flatten a payload shape into ``[{"field", "offset", "width"}]`` (dotted field paths)."""
    if isinstance(shape, data.Layout):
        return [entry for key, field in shape
                for entry in _layout_fields(field.shape, offset + field.offset,
                                            f"{prefix}.{key}" if prefix else str(key))]
    return [{"field": prefix, "offset": offset, "width": Shape.cast(shape).width}]


def stream_layouts(component):
    """Payload bit layout of every stream port of ``component``, keyed by Verilog port name."""
    return {f"{name}__payload": _layout_fields(member.signature.members["payload"].shape)
            for name, member in component.signature.members.items()
            if member.is_signature and "payload" in member.signature.members}


@dataclasses.dataclass
class Design:
    """A top module and the Verilog of every module it needs.

    Attributes
    ----------
    top : str
        Top module name.
    component : ModuleInstance
        The top block (its ports, payload layouts and parameters such as ``latency``).
    files : dict
        File name -> Verilog text, children before parents (compile order).
    instances : dict
        Module name -> instances of it in the design (the top: 1).
    stats : EmitStats
        Which modules were elaborated and which came from the cache.
    """

    top: str
    component: object
    files: dict
    instances: dict
    stats: object = None

    def module_text(self, module):
        """The Verilog of ``module``."""
        return self.files[f"{module}.v"]

    @property
    def text(self):
        """All modules in one Verilog text."""
        return "".join(self.files.values())


def design(cls, *args, jobs=None, cache="default", log=None, **kwargs):
    """The :class:`Design` of block ``cls(*args, **kwargs)`` built through a module library
    (any block class, e.g. a test's own parameters)."""
    library = ModuleLibrary()
    component = library.build(cls, *args, **kwargs)
    return _design(library, component, jobs=jobs, cache=cache, log=log)


def block_design(config, block, *, jobs=None, cache="default", log=None):
    """The :class:`Design` of registered block ``block`` (a name) of ``config``."""
    (entry,) = select_blocks([block])
    library = ModuleLibrary()
    component = entry.build(library, Derived(config))
    return _design(library, component, jobs=jobs, cache=cache, log=log)


def _design(library, component, *, jobs, cache, log):
    cache = default_cache() if cache == "default" else cache
    texts, stats = library.emit([component.module], jobs=jobs, cache=cache, log=log)
    files = {f"{name}.v": texts[name] for name in library.needs(component.module)}
    return Design(component.module, component, files,
                  library.instance_counts(component.module), stats)


def generate(config, out_dir, *, blocks=None, config_name=None, jobs=None, cache="default",
             log=print):
    """Elaborate the blocks of ``config`` (all, or the names in ``blocks``) into ``out_dir``.

    Every distinct module is elaborated once (or read from the module cache) and written to
    ``<module>.v``; ``.v`` files of earlier runs that this configuration no longer has are
    removed. Returns ``(manifest, stats)``: the manifest (also written as
    ``manifest.json``) holds the configuration, its hash, per block its top module, file,
    ports, payload layouts and the files it needs in compile order, and per file the modules
    it defines and the modules it instantiates; ``stats`` says what was elaborated or reused.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = default_cache() if cache == "default" else cache
    derived = Derived(config)
    library = ModuleLibrary()
    tops = [(block, block.build(library, derived)) for block in select_blocks(blocks)]
    texts, stats = library.emit([top.module for _, top in tops], jobs=jobs, cache=cache,
                                log=log)

    files = []
    for name in library.needs(*(top.module for _, top in tops)):
        spec = library.specs[name]
        (out_dir / spec.file).write_text(texts[name])
        files.append({"file": spec.file, "module": name, "defines": defined_modules(texts[name]),
                      "instantiates": list(spec.children),
                      "needs": [library.specs[m].file for m in library.needs(name)]})
    for stale in out_dir.glob("*.v"):
        if stale.name not in {entry["file"] for entry in files}:
            stale.unlink()
    manifest = {
        "config_name": config_name, "config": config.to_dict(), "config_hash": config.hash,
        "generator": generator_fingerprint(),
        "blocks": [{"block": block.name, "top": top.module, "file": f"{top.module}.v",
                    "description": block.description,
                    "files": [f"{name}.v" for name in library.needs(top.module)],
                    "ports": verilog_ports(texts[top.module], top.module),
                    "payloads": stream_layouts(top)}
                   for block, top in tops],
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest, stats
