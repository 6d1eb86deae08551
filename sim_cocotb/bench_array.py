"""``make bench-array``: cycles and utilization of the systolic array, measured in Verilator.

For each fold length p it measures (a) one fold: cycles from the first weight beat until the
last partial-sum beat leaves, and (b) ``FOLDS`` folds back to back with their weight tiles
streamed alongside, and reports utilization = useful vector-cycles / total cycles next to the
published cycle model (M + 93 cycles per fold, folds not overlapped).
"""

import argparse
import json
import time

from gen.config import CONFIGS
from gen.formats import FORMATS
from gen.generate import block_design
from sim_cocotb.runner import PROJECT_ROOT, run_testbench

FOLDS = 8
PUBLISHED_FILL = 93


def bench(dtype, rows, cols, lengths, out_dir):
    config = CONFIGS["paper"].replace(dtype=dtype, rows=rows, cols=cols, matcher_width=None,
                                      collector_lanes=None)
    dut = block_design(config, "systolic_array")
    result_file = out_dir / f"array-{dtype}-{rows}x{cols}.json"
    started = time.perf_counter()
    run_testbench(dut, "sim_cocotb.tb_bench_array",
                  params={"dtype": dtype, "rows": rows, "cols": cols, "lengths": lengths,
                          "folds": FOLDS, "result": str(result_file)},
                  seed=1, test_dir=out_dir / f"array-{dtype}-{rows}x{cols}")
    data = json.loads(result_file.read_text())
    data.update(dtype=dtype, rows=rows, cols=cols, latency=dut.component.latency,
                reload_gap=dut.component.reload_gap, seconds=time.perf_counter() - started)
    return data


def table(data):
    rows, cols = data["rows"], data["cols"]
    lines = [
        f"### {data['dtype']} {rows}x{cols} array (latency {data['latency']} cycles, "
        f"weight tile load {rows} beats, reload gap {data['reload_gap']} cycles)",
        "",
        "| p | one fold: cycles | one fold: published p+93 | "
        f"{data['results'][0]['back_to_back_folds']} folds back to back: cycles | "
        "steady fold period | utilization | published utilization p/(p+93) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        p, n = r["p"], r["back_to_back_folds"]
        period = max(r["fold_period"]) if r["fold_period"] else 0
        lines.append(
            f"| {p} | {r['single_fold_cycles']} | {p + PUBLISHED_FILL} | "
            f"{r['back_to_back_cycles']} | {period} | "
            f"{100 * n * p / r['back_to_back_cycles']:.1f} % | "
            f"{100 * p / (p + PUBLISHED_FILL):.1f} % |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--cols", type=int, default=32)
    parser.add_argument("--lengths", default="32,256,1024")
    parser.add_argument("--dtype", action="append",
                        help="format(s) to measure (default: every implemented one)")
    args = parser.parse_args(argv)
    out_dir = PROJECT_ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    lengths = [int(p) for p in args.lengths.split(",")]
    report = []
    for dtype in args.dtype or sorted(FORMATS):
        data = bench(dtype, args.rows, args.cols, lengths, out_dir)
        report.append(table(data))
        report.append(f"\n(simulation incl. build: {data['seconds']:.0f} s)\n")
        print(report[-2] + report[-1], flush=True)
    (out_dir / "array.md").write_text("\n".join(report) + "\n")
    print(f"written {out_dir / 'array.md'}")


if __name__ == "__main__":
    main()
