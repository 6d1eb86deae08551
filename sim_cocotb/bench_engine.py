"""``make bench``: FocusEngine cycles in dense and concentrated modes, measured in Verilator.

Runs ``tiles`` output tiles (N-slices of one token tile, fresh weights each) back to back per
workload (dense baseline; video-like tokens concentrated by the tensor-level model; an
all-similar tile), every output checked bit for bit, and prints measured cycles (first input
beat to last output beat), speedup over dense, array utilization and stall share next to the
published cycle model evaluated on the same counts: compute + max(0, max(scatter, gather) -
compute) + fill, with compute = vectors through the array, scatter = ceil(tokens / lanes)
per K-slice, gather = 8 cycles per output vector per matcher (concentrated mode only) and
fill = 93 cycles (published, 32x32 array).
"""

import argparse
import json
import time

from gen.config import CONFIGS
from gen.formats import FORMATS
from gen.generate import block_design
from sim_cocotb.runner import PROJECT_ROOT, run_testbench

PUBLISHED_FILL = 93
PUBLISHED_GATHER_CYCLES = 8      # per output vector and matcher
SIZES = {
    "medium": dict(rows=8, cols=8, m_tile=64, lanes=2, slices=8, tiles=8, geometry="small",
                   window_vectors=64, max_tokens=512),
    "paper": dict(rows=32, cols=32, m_tile=1024, lanes=2, slices=4, tiles=4,
                  geometry="llava-video", window_vectors=256, max_tokens=12800,
                  matcher_width=16, collector_lanes=2),
}


def published_model(result, lanes, matchers):
    tiles = result["tiles"]
    compute = tiles * sum(result["unique_vectors"])
    scatter = tiles * result["slices"] * -(-result["tokens"] // lanes)
    gather = 0 if result["dense"] else \
        tiles * result["tokens"] * PUBLISHED_GATHER_CYCLES / matchers
    return round(compute + max(0, max(scatter, gather) - compute) + PUBLISHED_FILL)


def bench(dtype, size, matchers, out_dir, **overrides):
    p = {**SIZES[size], **overrides}
    config = CONFIGS["paper"].replace(dtype=dtype, rows=p["rows"], cols=p["cols"],
                                      m_tile=p["m_tile"], scatter_lanes=p["lanes"],
                                      matchers=matchers, window_vectors=p["window_vectors"],
                                      max_tokens=p["max_tokens"],
                                      matcher_width=p.get("matcher_width"),
                                      collector_lanes=p.get("collector_lanes"))
    name = f"engine-{dtype}-{size}-g{matchers}-k{p['slices']}-t{p['tiles']}"
    result_file = out_dir / f"{name}.json"
    started = time.perf_counter()
    run_testbench(block_design(config, "focus_engine"), "sim_cocotb.tb_bench_engine",
                  params={"dtype": dtype, **p, "window": list(config.window),
                          "result": str(result_file)},
                  seed=1, test_dir=out_dir / name)
    return json.loads(result_file.read_text()), time.perf_counter() - started


def table(dtype, size, matchers, results, **overrides):
    p = {**SIZES[size], **overrides}
    first = results[0]
    dense = first["cycles"]
    lines = [f"### {dtype}, {p['rows']}x{p['cols']} array, m_tile {p['m_tile']}, "
             f"{p['lanes']} scatter lanes, {p['slices']} K-slices, {matchers} gather "
             f"matcher(s), {first['tiles']} output tiles of {first['tokens']} tokens",
             "",
             "| workload | vectors through array | output vectors | cycles | speedup vs dense "
             "| array utilization | array stalled by scatter | published model cycles "
             "| model speedup | measured / model |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    model_dense = published_model(first, p["lanes"], matchers)
    for r in results:
        model = published_model(r, p["lanes"], matchers)
        lines.append(
            f"| {r['workload']} | {r['array_vectors']} | {r['output_vectors']} | "
            f"{r['cycles']} | {dense / r['cycles']:.2f}x | "
            f"{100 * r['array_vectors'] / r['cycles']:.1f} % | "
            f"{100 * r['array_stall_cycles'] / r['cycles']:.1f} % | {model} | "
            f"{model_dense / model:.2f}x | {r['cycles'] / model:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=SIZES, default="medium")
    parser.add_argument("--dtype", action="append",
                        help="format(s) to measure (default: every implemented one)")
    parser.add_argument("--matchers", default="1,7",
                        help="gather matchers, comma-separated (default 1, the paper's, and "
                             "7, one key per cycle)")
    parser.add_argument("--slices", type=int, help="K-slices per tile (overrides the size)")
    parser.add_argument("--tiles", type=int, help="output tiles per run (overrides the size)")
    args = parser.parse_args(argv)
    overrides = {key: value for key, value in (("slices", args.slices), ("tiles", args.tiles))
                 if value is not None}
    out_dir = PROJECT_ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = []
    for dtype in args.dtype or sorted(FORMATS):
        for matchers in (int(m) for m in args.matchers.split(",")):
            results, seconds = bench(dtype, args.size, matchers, out_dir, **overrides)
            report.append(table(dtype, args.size, matchers, results, **overrides) +
                          f"\n\n(simulation incl. build: {seconds:.0f} s)\n")
            print(report[-1], flush=True)
    suffix = "".join(f"-{key}{value}" for key, value in overrides.items())
    (out_dir / f"engine-{args.size}{suffix}.md").write_text("\n".join(report))


if __name__ == "__main__":
    main()
