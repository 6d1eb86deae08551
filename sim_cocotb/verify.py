"""``python -m sim_cocotb.verify``: is the Verilog generated for a configuration correct?

Generates the configuration exactly as ``make verilog`` does (``build/verilog/<config>`` or
``<config>-<hash>`` with ``--set``), then runs every block's cocotb testbench on the files of
that folder (each bench's design is checked byte for byte against them) against the golden
models, and writes a per-bench verdict report (``report.md``, ``report.json``) to
``build/verify/<config>-<hash>/``. Exits non-zero on any failure, naming the first mismatch.

Stimulus scales with the configuration (:attr:`Bench.stimulus`): every testbench derives
its sizes from the block's parameters, and for paper-size blocks the directed runs are bounded
(:data:`RUN_TOKENS`, :data:`SORT_CYCLES`) so that a run finishes on a 2-core machine.
"""

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from gen.blocks import Derived
from gen.cli import output_name
from gen.config import get_config
from gen.generate import block_design, design, generate
from gen.library import default_cache
from golden import sic
from golden.workloads import GEOMETRIES
from sim_cocotb.runner import (DEFAULT_SEED, PROJECT_ROOT, TRANSFERS_FILE, build,
                               run_testbench)
from sim_cocotb.tb_engine import KEEP
from sim_cocotb.tb_sec_harness import SecHarness

#: Clock period of every testbench (``sim_cocotb.streams.start_clock``), for cycle counts.
CLOCK_NS = 10
#: Bound on the tokens of one directed SIC run once ``3 * m_tile + 7`` exceeds it.
RUN_TOKENS = 1100
#: Bound on ``ceil(k / a) * M`` of one SEC layer (k = 1, a, a + 1, 2a always run).
SORT_CYCLES = 60_000
#: Engine workloads, smallest first: the first that fills a tile (and fits) is used.
ENGINE_GEOMETRIES = ("tiny", "small", "llava-onevision", "llava-video")
#: K-slices of the engine runs (K = slices x rows).
ENGINE_SLICES = 4


class VerifyError(Exception):
    """A design does not match the generated files, or a stimulus cannot fit."""


def engine_geometry(derived):
    """The workload geometry of the engine runs: the smallest of
    :data:`ENGINE_GEOMETRIES` whose kept tokens fill an output tile, whose positions fit
    ``max_tokens`` and whose window span fits ``window_vectors`` (else the largest that
    fits)."""
    fitting = [name for name in ENGINE_GEOMETRIES
               if GEOMETRIES[name].n_tokens <= derived.max_tokens
               and sic.window_span(GEOMETRIES[name].frame_stride, GEOMETRIES[name].row_stride,
                                   derived.window) <= derived.window_vectors]
    if not fitting:
        raise VerifyError(f"no engine workload geometry fits window {derived.window}, "
                          f"window_vectors {derived.window_vectors} and max_tokens "
                          f"{derived.max_tokens} (geometries {', '.join(ENGINE_GEOMETRIES)})")
    return next((name for name in fitting
                 if GEOMETRIES[name].n_tokens * KEEP >= derived.m_tile), fitting[-1])


def _sec_harness(config, params, cache):
    d = Derived(config)
    return design(SecHarness, d.fmt, sort_width=d.sort_width, max_tokens=d.max_tokens,
                  offset_bits=d.offset_bits, taps=params.get("taps", True), cache=cache)


@dataclasses.dataclass(frozen=True)
class Bench:
    """A testbench and the generated blocks whose modules it simulates."""

    name: str
    testbench: str
    blocks: tuple
    stimulus: callable             # Derived -> testbench parameters (sizes and bounds)
    harness: callable = None       # (config, params, cache) -> Design around the blocks

    def design(self, config, params, cache="default"):
        """The design it simulates (the block, or a harness around the generated modules)."""
        if self.harness:
            return self.harness(config, params, cache)
        return block_design(config, self.blocks[0], cache=cache)


#: Every generated block is simulated by exactly one bench.
BENCHES = [
    Bench("systolic_array", "sim_cocotb.tb_array", ("systolic_array", "processing_element"),
          lambda d: dict(dtype=d.dtype, rows=d.rows, cols=d.cols)),
    Bench("scatter_accumulator", "sim_cocotb.tb_scatter", ("scatter_accumulator",),
          lambda d: dict(dtype=d.dtype, cols=d.cols, m_tile=d.m_tile, lanes=d.scatter_lanes)),
    Bench("output_converter", "sim_cocotb.tb_converter", ("output_converter",),
          lambda d: dict(dtype=d.dtype, cols=d.cols)),
    Bench("similarity_gather", "sim_cocotb.tb_sic", ("similarity_gather",),
          lambda d: dict(dtype=d.dtype, rows=d.rows, m_tile=d.m_tile, window=list(d.window),
                         window_vectors=d.window_vectors, matchers=d.matchers,
                         position_bits=d.position_bits, matcher_width=d.matcher_width,
                         collector_lanes=d.collector_lanes,
                         run_tokens=min(3 * d.m_tile + 7, RUN_TOKENS))),
    Bench("semantic_concentrator", "sim_cocotb.tb_sec",
          ("semantic_concentrator", "importance_analyzer", "topk_sorter", "offset_encoder",
           "offset_decoder"),
          lambda d: dict(dtype=d.dtype, sort_width=d.sort_width, max_tokens=d.max_tokens,
                         offset_bits=d.offset_bits, taps=False, sort_cycles=SORT_CYCLES),
          _sec_harness),
    Bench("focus_engine", "sim_cocotb.tb_engine", ("focus_engine",),
          lambda d: dict(dtype=d.dtype, rows=d.rows, cols=d.cols, m_tile=d.m_tile,
                         lanes=d.scatter_lanes, window=list(d.window), slices=ENGINE_SLICES,
                         geometry=engine_geometry(d))),
]
BENCHES_BY_NAME = {bench.name: bench for bench in BENCHES}


def select_benches(names=None):
    """The benches named in ``names`` (a list or comma-separated string; all when empty)."""
    if not names:
        return list(BENCHES)
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHES_BY_NAME))
    if unknown:
        raise ValueError(f"unknown bench {', '.join(unknown)}; known: "
                         f"{', '.join(BENCHES_BY_NAME)}")
    return [bench for bench in BENCHES if bench.name in names]


def check_generated(bench, dut, manifest, verilog_dir, *, inline=False):
    """Every module file of ``dut`` that the generator wrote for ``bench``'s blocks is
    byte-identical to it; the top of a block bench is the block's generated top. Only with
    ``inline`` may a harness elaborate a block itself (its parts still generated). Returns
    ``({file: sha256} of the generated files simulated, [blocks elaborated inline])``."""
    blocks = {entry["block"]: entry for entry in manifest["blocks"]}
    missing = [name for name in bench.blocks if name not in blocks]
    if missing:
        raise VerifyError(f"{bench.name}: blocks {', '.join(missing)} were not generated")
    inlined = [name for name in bench.blocks
               if inline and bench.harness and blocks[name]["file"] not in dut.files]
    wanted = {file for name in bench.blocks if name not in inlined
              for file in blocks[name]["files"]}
    if bench.harness is None and dut.top != blocks[bench.blocks[0]]["top"]:
        raise VerifyError(f"{bench.name}: top {dut.top} is not the generated "
                          f"{blocks[bench.blocks[0]]['top']}")
    absent = sorted(wanted - set(dut.files))
    if absent:
        raise VerifyError(f"{bench.name}: the simulated design lacks {', '.join(absent)}")
    digests = {}
    for file in sorted(wanted):
        text = (Path(verilog_dir) / file).read_text()
        if dut.files[file] != text:
            raise VerifyError(f"{bench.name}: {file} differs from {verilog_dir}/{file}")
        digests[file] = hashlib.sha256(text.encode()).hexdigest()
    return digests, inlined


def _results(test_dir):
    """``(tests, cycles, first failure or None)`` from cocotb's ``results.xml``."""
    path = Path(test_dir) / "results.xml"
    if not path.exists():
        return 0, 0, None
    tests, cycles, failure = 0, 0, None
    for case in ElementTree.parse(path).iter("testcase"):
        tests += 1
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        cycles += round(float(props.get("sim_time_duration", 0)) / CLOCK_NS)
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None and failure is None:
            message = (problem.get("message") or problem.text or "").strip()
            failure = f"{case.get('name')}: {message.splitlines()[0] if message else '?'}"
    return tests, cycles, failure


def run_bench(bench, config, *, seed, test_dir, overrides=None, manifest=None,
              verilog_dir=None, cache="default", log=print):
    """Build and run ``bench`` on ``config``; returns its verdict (a dict).

    ``overrides`` change testbench parameters of :attr:`Bench.stimulus`. With
    ``manifest``/``verilog_dir`` (a generated folder), the simulated files are checked
    against it first. Never raises for a failing simulation: the verdict holds the failure.
    """
    started = time.perf_counter()
    verdict = {"bench": bench.name, "blocks": list(bench.blocks), "testbench": bench.testbench,
               "seed": seed, "passed": False, "tests": 0, "vectors": 0, "beats": {},
               "cycles": 0, "build_s": 0.0, "wall_s": 0.0, "failure": None}
    test_dir = Path(test_dir)
    for stale in ("results.xml", TRANSFERS_FILE):        # of an earlier run
        (test_dir / stale).unlink(missing_ok=True)
    try:
        params = {**bench.stimulus(Derived(config)), **(overrides or {})}
        verdict["params"] = params
        dut = bench.design(config, params, cache)
        verdict["top"] = dut.top
        if manifest is not None:
            verdict["files"], verdict["inline"] = check_generated(
                bench, dut, manifest, verilog_dir, inline=params.get("taps", False))
        built = time.perf_counter()
        build(dut)          # (cached: run_testbench reuses it)
        verdict["build_s"] = round(time.perf_counter() - built, 1)
        log(f"  {bench.name}: built in {verdict['build_s']} s, simulating")
        run_testbench(dut, bench.testbench, params=params, seed=seed, test_dir=test_dir,
                      log_file=test_dir / "sim.log")
        verdict["passed"] = True
    except Exception as error:      # a verdict, whatever went wrong (build errors too)
        verdict["failure"] = f"{type(error).__name__}: {error}"
    verdict["tests"], verdict["cycles"], failure = _results(test_dir)
    if failure:
        verdict["failure"] = failure
    transfers = test_dir / TRANSFERS_FILE
    if transfers.exists():
        verdict["beats"] = json.loads(transfers.read_text())
        verdict["vectors"] = sum(verdict["beats"].values())
    verdict["wall_s"] = round(time.perf_counter() - started, 1)
    verdict["log"] = str(test_dir)
    return verdict


def verify(config, name, *, seed, benches=None, overrides=None, blocks=None, cache="default",
           verilog_dir=None, report_dir=None, log=print):
    """Generate ``config`` (named ``name``, as ``make verilog`` names its folder; only
    ``blocks`` when given), run the benches on it (testbench parameters changed by
    ``overrides``) and write the report. Returns the report (a dict)."""
    started = time.perf_counter()
    verilog_dir = Path(verilog_dir or PROJECT_ROOT / "build" / "verilog" / name)
    report_dir = Path(report_dir or PROJECT_ROOT / "build" / "verify"
                      / f"{name.removesuffix('-' + config.hash)}-{config.hash}")
    log(f"verify {name} (hash {config.hash}): generating into {verilog_dir}")
    cache = default_cache() if cache == "default" else cache
    manifest, _ = generate(config, verilog_dir, blocks=blocks, config_name=name, cache=cache,
                           log=None)
    report = {"config_name": name, "config": config.to_dict(), "config_hash": config.hash,
              "generator": manifest["generator"], "verilog_dir": str(verilog_dir), "seed": seed,
              "complete": False, "passed": None,
              "generate_s": round(time.perf_counter() - started, 1), "wall_s": None,
              "first_failure": None, "benches": []}
    selected = select_benches(benches)
    for bench in selected:
        verdict = run_bench(bench, config, seed=seed, test_dir=report_dir / bench.name,
                            overrides=overrides, manifest=manifest, verilog_dir=verilog_dir,
                            cache=cache, log=log)
        log(f"  {bench.name}: {'PASS' if verdict['passed'] else 'FAIL'} "
            f"({verdict['tests']} tests, {verdict['vectors']} beats, {verdict['cycles']} cycles, "
            f"{verdict['wall_s']} s)")
        report["benches"].append(verdict)
        failed = [v for v in report["benches"] if not v["passed"]]
        report.update(complete=len(report["benches"]) == len(selected),
                      wall_s=round(time.perf_counter() - started, 1),
                      first_failure=(f"{failed[0]['bench']}: {failed[0]['failure']}"
                                     if failed else None))
        report["passed"] = not failed if report["complete"] else None
        _write(report, report_dir)      # after every bench: an interrupted run keeps its part
    report["report_dir"] = str(report_dir)
    return report


def _write(report, report_dir):
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (report_dir / "report.md").write_text(markdown(report))


def _verdict(report):
    if report["first_failure"]:
        return "FAIL"
    return "PASS" if report["complete"] else "INCOMPLETE (so far passing)"


def markdown(report):
    """The report as a markdown page."""
    lines = [f"# Verification of `{report['config_name']}` (hash {report['config_hash']})", "",
             f"**{_verdict(report)}**: seed {report['seed']}, "
             f"generation {report['generate_s']} s, total {report['wall_s']} s; Verilog "
             f"`{report['verilog_dir']}`.", "",
             "Configuration: " + ", ".join(f"{k}={v}" for k, v in report["config"].items()),
             ""]
    if report["first_failure"]:
        lines += [f"First failure: {report['first_failure']}", ""]
    lines += ["| bench | blocks | verdict | tests | beats | cycles | build s | wall s |",
              "|---|---|---|---|---|---|---|---|"]
    for v in report["benches"]:
        lines.append(f"| `{v['bench']}` | {', '.join(v['blocks'])} | "
                     f"{'pass' if v['passed'] else 'FAIL'} | {v['tests']} | {v['vectors']} | "
                     f"{v['cycles']} | {v['build_s']} | {v['wall_s']} |")
    lines += ["", "Beats: stream transfers driven and checked (per port in report.json); "
              "cycles: simulated clock cycles of all tests.", "", "## Stimulus", ""]
    for v in report["benches"]:
        params = ", ".join(f"{k}={val}" for k, val in v.get("params", {}).items())
        lines.append(f"- `{v['bench']}` ({v['testbench']}): {params}")
        if v.get("inline"):
            lines.append(f"  - elaborated by the harness (to tap its internal streams), "
                         f"its parts generated: {', '.join(v['inline'])}")
        if v["failure"]:
            lines.append(f"  - failure: {v['failure']}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim_cocotb.verify",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="paper", help="named configuration (default paper)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter, as for python -m gen")
    parser.add_argument("--benches", metavar="NAME,...",
                        help=f"run only these ({', '.join(BENCHES_BY_NAME)})")
    parser.add_argument("--seed", type=int,
                        default=int(os.environ.get("FOCUS_SEED", DEFAULT_SEED)),
                        help=f"random seed (default {DEFAULT_SEED}, or FOCUS_SEED)")
    parser.add_argument("--no-cache", action="store_true",
                        help="elaborate every module (ignore the module cache)")
    args = parser.parse_args(argv)
    try:
        config = get_config(args.config).with_overrides(args.set)
        select_benches(args.benches)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = verify(config, output_name(args.config, config, args.set), seed=args.seed,
                    benches=args.benches, cache=None if args.no_cache else "default")
    print(f"report: {report['report_dir']}/report.md")
    if not report["passed"]:
        print(f"FAIL: {report['first_failure']}", file=sys.stderr)
        return 1
    print(f"PASS: {len(report['benches'])} benches in {report['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
