"""``make bench``: FocusEngine cycles in dense and concentrated modes, measured in Verilator.

Runs one output tile per workload (dense baseline; video-like tokens concentrated by the
tensor-level model; an all-similar tile) and prints measured cycles, speedup over dense,
array utilization and stall share next to the published cycle model evaluated on the same
counts: compute + max(0, scatter - compute) + fill, with compute = vectors through the array,
scatter = ceil(tokens / lanes) per K-slice, fill = 93 cycles (published, 32x32 array). The
engine does not run the output gather yet, so the model's gather term is left out as well.
"""

import argparse
import json
import time

from rtl.arith import FORMATS, get_format
from rtl.focus_engine import FocusEngine
from sim_cocotb.runner import PROJECT_ROOT, run_testbench

PUBLISHED_FILL = 93
SIZES = {
    "medium": dict(rows=8, cols=8, m_tile=64, lanes=2, slices=8, geometry="small"),
    "paper": dict(rows=32, cols=32, m_tile=1024, lanes=2, slices=4, geometry="llava-video"),
}


def published_model(result, lanes):
    compute = sum(result["unique_vectors"])
    scatter = result["slices"] * -(-result["tokens"] // lanes)
    return compute + max(0, scatter - compute) + PUBLISHED_FILL


def bench(dtype, size, out_dir):
    p = SIZES[size]
    dut = FocusEngine(get_format(dtype), rows=p["rows"], cols=p["cols"], m_tile=p["m_tile"],
                      lanes=p["lanes"])
    result_file = out_dir / f"engine-{dtype}-{size}.json"
    started = time.perf_counter()
    run_testbench(dut, "focus_engine", "sim_cocotb.tb_bench_engine",
                  params={"dtype": dtype, **p, "result": str(result_file)}, seed=1,
                  test_dir=out_dir / f"engine-{dtype}-{size}")
    return json.loads(result_file.read_text()), time.perf_counter() - started


def table(dtype, size, results):
    p = SIZES[size]
    dense = results[0]["cycles"]
    lines = [f"### {dtype}, {p['rows']}x{p['cols']} array, m_tile {p['m_tile']}, "
             f"{p['lanes']} scatter lanes, {p['slices']} K-slices, {results[0]['tokens']} tokens",
             "",
             "| workload | vectors through array | cycles | speedup vs dense | array utilization "
             "| array stalled by scatter | published model cycles | model speedup |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    model_dense = published_model(results[0], p["lanes"])
    for r in results:
        model = published_model(r, p["lanes"])
        lines.append(
            f"| {r['workload']} | {r['array_vectors']} | {r['cycles']} | "
            f"{dense / r['cycles']:.2f}x | {100 * r['array_vectors'] / r['cycles']:.1f} % | "
            f"{100 * r['array_stall_cycles'] / r['cycles']:.1f} % | {model} | "
            f"{model_dense / model:.2f}x |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=SIZES, default="medium")
    parser.add_argument("--dtype", action="append",
                        help="format(s) to measure (default: every implemented one)")
    args = parser.parse_args(argv)
    out_dir = PROJECT_ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = []
    for dtype in args.dtype or sorted(FORMATS):
        results, seconds = bench(dtype, args.size, out_dir)
        report.append(table(dtype, args.size, results) +
                      f"\n\n(simulation incl. build: {seconds:.0f} s)\n")
        print(report[-1], flush=True)
    (out_dir / f"engine-{args.size}.md").write_text("\n".join(report))


if __name__ == "__main__":
    main()
