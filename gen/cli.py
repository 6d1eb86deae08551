"""``python -m gen``: elaborate the Focus blocks of a configuration to Verilog.

Writes one ``<block>.v`` per block and ``manifest.json`` (configuration, hash, each file's
top module, ports and stream payload layouts) into ``--out`` (default
``build/verilog/<config>``). Output is reproducible byte for byte.
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

from rtl import verilog
from amaranth.hdl import Shape
from amaranth.lib import data, wiring

from .blocks import BLOCKS
from .config import CONFIGS, get_config

_PORT_RE = re.compile(r"^\s*(input|output|inout)\s+(?:(?:wire|reg|signed)\s+)*"
                      r"(?:\[(\d+):(\d+)\]\s+)?(\w+)\s*;", re.M)


def verilog_ports(text, module):
    """``[{"name", "direction", "width"}]`` of ``module`` in generated Verilog ``text``."""
    start = text.index(f"module {module}(")
    end = text.index("endmodule", start)
    ports = []
    for direction, msb, lsb, name in _PORT_RE.findall(text[start:end]):
        width = int(msb) - int(lsb) + 1 if msb else 1
        ports.append({"name": name, "direction": direction, "width": width})
    return ports


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


def generate(config, out_dir, *, config_name=None, log=print):
    """Elaborate every block of ``config`` into ``out_dir``; returns the manifest dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for block in BLOCKS:
        started = time.perf_counter()
        component = block.build(config)
        assert isinstance(component, wiring.Component)
        text = verilog.convert(component, block.module)
        path = out_dir / f"{block.name}.v"
        path.write_text(text)
        log(f"  {path} ({block.module}, {len(text) / 1e6:.2f} MB, "
            f"{time.perf_counter() - started:.1f} s)")
        files.append({"file": path.name, "block": block.name, "top": block.module,
                      "description": block.description,
                      "ports": verilog_ports(text, block.module),
                      "payloads": stream_layouts(component)})
    manifest = {"config_name": config_name, "config": config.to_dict(),
                "config_hash": config.hash, "files": files}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gen", description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="list the named configurations")
    parser.add_argument("--config", default="paper", help="named configuration (default paper)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter, e.g. --set rows=16 --set window=2,2,2")
    parser.add_argument("--out", type=Path, help="output directory "
                        "(default build/verilog/<config>)")
    args = parser.parse_args(argv)

    if args.list:
        for name, config in CONFIGS.items():
            print(f"{name:12s} {config.hash}  " + ", ".join(
                f"{k}={v}" for k, v in config.to_dict().items()))
        return 0
    try:
        config = get_config(args.config).with_overrides(args.set)
        name = args.config + ("-custom" if args.set else "")
        out_dir = args.out or Path("build") / "verilog" / name
        print(f"generating {name} (hash {config.hash}) into {out_dir}")
        started = time.perf_counter()
        generate(config, out_dir, config_name=name)
    except (ValueError, NotImplementedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0
