"""``make bench-sec``: cycles of the semantic concentrator, measured in Verilator.

For each (M, k) it streams one layer of ``--rows`` probability vectors per column group into
the SEC top (``SemanticConcentrator`` inside ``sim_cocotb.tb_sec_harness``) with no idle
cycles and no back-pressure and reports:

* analyzer: vectors accepted and the cycles they took (published: 1 vector per cycle);
* sorter: cycles from the first importance token to the last offset code, next to the
  published ``ceil(k/a) * M`` and to the exact standalone-sorter model
  ``golden.sec.sorter_cycles`` (the difference is the encoder's escape codes stalling the
  final index walk, plus its 1-cycle latency).
"""

import argparse
import json
import time

from gen.formats import number_format
from gen.generate import design
from sim_cocotb.runner import PROJECT_ROOT, run_testbench
from sim_cocotb.tb_sec_harness import SecHarness

DEFAULT_CASES = "1024:1,1024:32,1024:102,1024:410,1024:1024,4096:410,4096:1638," \
                "11648:1164,11648:4659"


def bench(dtype, sort_width, max_tokens, offset_bits, cases, rows, out_dir):
    params = dict(dtype=dtype, sort_width=sort_width, max_tokens=max_tokens,
                  offset_bits=offset_bits)
    name = f"sec-{dtype}-a{sort_width}-n{max_tokens}-b{offset_bits}"
    result_file = out_dir / f"{name}.json"
    started = time.perf_counter()
    harness = design(SecHarness, number_format(dtype), sort_width=sort_width,
                     max_tokens=max_tokens, offset_bits=offset_bits)
    run_testbench(harness, "sim_cocotb.tb_bench_sec",
                  params={**params, "cases": cases, "rows": rows,
                          "result": str(result_file)},
                  seed=1, test_dir=out_dir / name)
    return json.loads(result_file.read_text()), time.perf_counter() - started


def table(results, params):
    a = params["sort_width"]
    lines = [
        f"### {params['dtype']}, sort_width a = {a}, max_tokens {params['max_tokens']}, "
        f"offset_bits {params['offset_bits']}, {params['rows']} rows per column group",
        "",
        "| M | k | analyzer: vectors / cycles | passes P | published P*M | first token -> "
        "first index | first token -> last code | sorter model alone | measured / "
        "published | escape codes |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['M']} | {r['k']} | {r['vectors']} / {r['accept_cycles']} | {r['passes']} "
            f"| {r['published']} | {r['to_first_index']} | {r['to_last_code']} | "
            f"{r['sorter_alone_model']} | {r['to_last_code'] / r['published']:.4f} | "
            f"{r['escapes']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", default="fp16")
    parser.add_argument("--sort-width", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=12800)
    parser.add_argument("--offset-bits", type=int, default=8)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--cases", default=DEFAULT_CASES, help="M:k,M:k,...")
    args = parser.parse_args(argv)
    cases = [[int(x) for x in case.split(":")] for case in args.cases.split(",")]
    out_dir = PROJECT_ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    params = dict(dtype=args.dtype, sort_width=args.sort_width, max_tokens=args.max_tokens,
                  offset_bits=args.offset_bits, rows=args.rows)
    results, seconds = bench(args.dtype, args.sort_width, args.max_tokens, args.offset_bits,
                             cases, args.rows, out_dir)
    report = table(results, params) + f"\n\n(simulation incl. build: {seconds:.0f} s)\n"
    print(report)
    (out_dir / "sec.md").write_text(report)
    print(f"written {out_dir / 'sec.md'}")


if __name__ == "__main__":
    main()
