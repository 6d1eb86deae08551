"""The module library: every distinct block of a design elaborated once, one Verilog module each.

:class:`ModuleLibrary` is the :class:`rtl.hierarchy.Hierarchy` the generator hands to the
blocks. Each ``build(cls, *args, **kwargs)`` names the sub-block after its class and a hash of
its parameters (:func:`module_name`), records it once, and returns a
:class:`~rtl.hierarchy.ModuleInstance` in its place, so a container's Verilog instantiates its
sub-blocks instead of repeating them. :meth:`ModuleLibrary.emit` then elaborates each recorded
module on its own (in parallel worker processes, reusing a content-keyed cache of earlier
runs) and returns its Verilog.

Module names depend only on the block's class and parameters: the same block in two
configurations is the same module with the same text, and different blocks never share a
name, so the files of several configurations can be compiled together.
"""

import concurrent.futures
import dataclasses
import enum
import functools
import hashlib
import json
import multiprocessing
import os
import re
import time
from pathlib import Path

import amaranth
from amaranth.back import verilog
from amaranth.hdl import Elaboratable
from amaranth.hdl._ir import PortDirection      # as amaranth.back.verilog.convert uses it
from amaranth.lib.wiring import In

from rtl.hierarchy import Hierarchy, ModuleInstance, construct, port_name, signal_ports

#: Where emitted modules are cached between runs (relative to the working directory unless
#: ``FOCUS_MODULE_CACHE`` names another directory; ``FOCUS_MODULE_CACHE=`` disables it).
DEFAULT_CACHE = Path("build") / "cache" / "modules"
_RTL = Path(__file__).resolve().parent.parent / "rtl"


def _canonical(value):
    """A JSON-able, deterministic description of a block parameter."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    text = repr(value)
    if " at 0x" in text:
        raise TypeError(f"block parameter {text} has no deterministic repr(); give its class a "
                        "__repr__ that lists what it depends on")
    return text


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def module_name(cls, args=(), kwargs=None):
    """``focus_<block>_<hash>``: the Verilog module of block ``cls(*args, **kwargs)``."""
    recipe = {"class": f"{cls.__module__}.{cls.__qualname__}", "args": _canonical(list(args)),
              "kwargs": _canonical(dict(kwargs or {}))}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]
    stem = _snake(cls.__name__)
    return f"{stem if stem.startswith('focus_') else 'focus_' + stem}_{digest}"


@functools.cache
def generator_fingerprint():
    """Hash of everything a module's text depends on besides its parameters: the sources of
    ``rtl/`` and the Amaranth version. Part of every cache key."""
    digest = hashlib.sha256(amaranth.__version__.encode())
    for path in sorted(_RTL.rglob("*.py")):
        digest.update(str(path.relative_to(_RTL)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class ModuleSpec:
    """One distinct block: its module name, how to build it, the modules it instantiates
    (``children``, each once, in order) and how often (``instances``, child -> count)."""

    name: str
    cls: type
    args: tuple
    kwargs: dict
    children: tuple
    instances: dict

    @property
    def file(self):
        return f"{self.name}.v"


@dataclasses.dataclass
class EmitStats:
    """What one :meth:`ModuleLibrary.emit` did: modules elaborated and reused, wall time."""

    elaborated: list = dataclasses.field(default_factory=list)
    reused: list = dataclasses.field(default_factory=list)
    seconds: dict = dataclasses.field(default_factory=dict)


class ModuleLibrary(Hierarchy):
    """Records the distinct blocks of a design and emits each once (see the module docstring).

    Attributes
    ----------
    specs : dict
        Module name -> :class:`ModuleSpec`, children recorded before their parents.
    roots : list
        Modules built directly (not as another block's sub-block), in build order.
    ports : dict
        Module name -> port names of its emitted Verilog (filled by :meth:`emit`).
    """

    def __init__(self, ports=None):
        self.specs = {}
        self.roots = []
        self.ports = dict(ports or {})
        self._open = []        # children lists of the blocks being constructed

    def build(self, cls, /, *args, **kwargs):
        name = module_name(cls, args, kwargs)
        self._open.append([])
        try:
            component = construct(cls, self, args, kwargs)
        finally:
            built = self._open.pop()
        _silence_unused(component)      # recorded here, elaborated in :meth:`emit`'s workers
        instances = {child: built.count(child) for child in dict.fromkeys(built)}
        self.specs.setdefault(name, ModuleSpec(name, cls, args, kwargs, tuple(instances),
                                               instances))
        (self._open[-1] if self._open else self.roots).append(name)
        return ModuleInstance(component, name, functools.partial(self._module_ports, name))

    def _module_ports(self, name):
        try:
            return self.ports[name]
        except KeyError:
            raise RuntimeError(f"module {name} is instantiated before it was emitted") from None

    def instance_counts(self, top):
        """``{module: instances}`` of every module in the hierarchy below ``top`` (itself 1)."""
        counts = {}

        def visit(name, times):
            counts[name] = counts.get(name, 0) + times
            for child, n in self.specs[name].instances.items():
                visit(child, times * n)
        visit(top, 1)
        return counts

    def needs(self, *names):
        """Module names ``names`` depend on, themselves included, children before parents."""
        order = []

        def visit(module):
            if module in order:
                return
            for child in self.specs[module].children:
                visit(child)
            order.append(module)
        for name in names:
            visit(name)
        return order

    def emit(self, names, *, jobs=None, cache=None, log=None):
        """Verilog of the modules ``names`` (closed under :meth:`needs`): ``({name: text},
        EmitStats)``.

        Modules found in ``cache`` (a directory, or ``None`` for no cache) under the current
        :func:`generator_fingerprint` are read; the others are elaborated, each as soon as
        the modules it instantiates are done, in up to ``jobs`` worker processes (default:
        the machine's CPU count), and stored in the cache.
        """
        names = self.needs(*names)
        stats, texts = EmitStats(), {}
        cache = Path(cache) if cache else None
        fingerprint = generator_fingerprint()

        def cached(name):
            return cache / f"{name}-{fingerprint}.v" if cache else None

        def finish(name, text, seconds=None):
            texts[name] = text
            self.ports[name] = module_header_ports(text, name)
            if seconds is None:
                stats.reused.append(name)
                return
            stats.elaborated.append(name)
            stats.seconds[name] = seconds
            if log:
                log(f"  {name} ({len(text) / 1e6:.2f} MB, {seconds:.1f} s)")
            if cache:
                cache.mkdir(parents=True, exist_ok=True)
                partial = cache / f".{name}-{fingerprint}.{os.getpid()}.tmp"
                partial.write_text(text)
                partial.replace(cached(name))

        todo = []
        for name in names:
            path = cached(name)
            if path is not None and path.exists():
                finish(name, path.read_text())
            else:
                todo.append(name)
        jobs = max(1, min(len(todo), jobs or os.cpu_count() or 1))
        if jobs == 1:
            for name in todo:
                finish(name, *_elaborate(self.specs[name], self.ports))
            return texts, stats

        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            running = {}
            while todo or running:
                for name in [n for n in todo if all(c in texts for c in self.specs[n].children)]:
                    todo.remove(name)
                    spec = self.specs[name]
                    known = {c: self.ports[c] for c in self.needs(*spec.children)}
                    running[pool.submit(_elaborate, spec, known)] = name
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    finish(running.pop(future), *future.result())
        return texts, stats


def _silence_unused(component, seen=None):
    """Mark ``component`` and the parts it built inline as used: a recorded block is
    elaborated by a fresh copy in :func:`_elaborate`, not by this object."""
    seen = set() if seen is None else seen
    if id(component) in seen:
        return
    seen.add(id(component))
    component._MustUse__silence = True
    for value in vars(component).values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            for part in item if isinstance(item, (list, tuple)) else (item,):
                if isinstance(part, Elaboratable) and not isinstance(part, ModuleInstance):
                    _silence_unused(part, seen)


_HEADER_RE = re.compile(r"^module\s+(\S+?)\s*\(([^)]*)\)\s*;", re.M)


def module_header_ports(text, name):
    """Port names in the header of module ``name`` of Verilog ``text``."""
    for match in _HEADER_RE.finditer(text):
        if match.group(1) == name:
            return tuple(port.strip() for port in match.group(2).split(",") if port.strip())
    raise ValueError(f"module {name} not found in its Verilog")


def _elaborate(spec, ports):
    """Verilog of one module (run in a worker): ``(text, seconds)``. ``ports`` has the
    port names of every module it instantiates."""
    started = time.perf_counter()
    library = ModuleLibrary(ports)
    component = construct(spec.cls, library, spec.args, spec.kwargs)
    assert tuple(dict.fromkeys(library.roots)) == spec.children, \
        f"{spec.name}: its sub-blocks differ between construction and elaboration"
    signals = {}
    for path, member, value in signal_ports(component):
        signals[port_name(path)] = (value, PortDirection.Input if member.flow == In
                                    else PortDirection.Output)
    text = verilog.convert(component, name=spec.name, emit_src=False, ports=signals)
    return text, time.perf_counter() - started


def default_cache():
    """The module cache directory (``FOCUS_MODULE_CACHE``, else :data:`DEFAULT_CACHE`),
    ``None`` when disabled."""
    value = os.environ.get("FOCUS_MODULE_CACHE")
    if value is None:
        return DEFAULT_CACHE
    return Path(value) if value else None
