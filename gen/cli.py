"""``python -m gen``: elaborate the Focus blocks of a configuration to Verilog.

Writes one ``<module>.v`` per distinct module and ``manifest.json`` (configuration, hash,
each block's top module, ports, payload layouts and the files it needs; each file's modules)
into ``--out`` (default ``build/verilog/<config>``, or ``build/verilog/<config>-<hash>``
with ``--set``). Output is reproducible byte for byte.
"""

import argparse
import sys
import time
from pathlib import Path

from .blocks import BLOCKS
from .config import CONFIGS, get_config
from .generate import generate
from .library import default_cache
from .lint import LintError, lint


def output_name(config_name, config, overrides):
    """Folder name of a generation: the configuration's name, plus its hash when ``--set``
    changed it (so different overrides never share a folder)."""
    return f"{config_name}-{config.hash}" if overrides else config_name


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gen", description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true",
                        help="list the named configurations and the blocks")
    parser.add_argument("--config", default="paper", help="named configuration (default paper)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter, e.g. --set rows=16 --set window=2,2,2")
    parser.add_argument("--blocks", metavar="NAME,...",
                        help="generate only these blocks (and the modules they need)")
    parser.add_argument("--out", type=Path, help="output directory "
                        "(default build/verilog/<config>[-<hash>])")
    parser.add_argument("--jobs", type=int, help="elaboration processes (default: CPUs)")
    parser.add_argument("--no-cache", action="store_true",
                        help="elaborate every module (ignore and do not fill the module cache)")
    parser.add_argument("--lint", action="store_true",
                        help="then run Verilator -Wall lint on the output (gen/lint.vlt)")
    args = parser.parse_args(argv)

    if args.list:
        for name, config in CONFIGS.items():
            print(f"{name:12s} {config.hash}  " + ", ".join(
                f"{k}={v}" for k, v in config.to_dict().items()))
        print("blocks: " + ", ".join(block.name for block in BLOCKS))
        return 0
    try:
        config = get_config(args.config).with_overrides(args.set)
        name = output_name(args.config, config, args.set)
        out_dir = args.out or Path("build") / "verilog" / name
        print(f"generating {name} (hash {config.hash}) into {out_dir}")
        started = time.perf_counter()
        manifest, stats = generate(config, out_dir, blocks=args.blocks, config_name=name,
                                   jobs=args.jobs,
                                   cache=None if args.no_cache else default_cache())
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - started:.1f} s: {len(manifest['files'])} modules "
          f"({len(stats.elaborated)} elaborated, {len(stats.reused)} from the module cache)")
    for block in manifest["blocks"]:
        print(f"  {block['block']:22s} {block['file']}")
    if args.lint:
        started = time.perf_counter()
        try:
            lint([out_dir])
        except LintError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"lint clean in {time.perf_counter() - started:.1f} s")
    return 0
