"""``python -m sim_cocotb.bench_sic``: SIC gather throughput, storage and model agreement.

Three measurements, written to ``build/bench/sic.md``:

1. **Cycles** (Verilator, cocotb): one vector slot of a realistic LLaVA-Video-like sequence
   (``golden.workloads``, V = ``--rows``) through the gather unit for each combination of
   ``--matchers``, ``--matcher-width`` and ``--collector-lanes``, at the paper's m_tile and
   window_vectors: cycles between accepted keys inside a
   tile, the full period of a tile (matching, pipeline flush and the drain of
   representatives and map), cycles per key overall, next to the published budget of
   8 cycles per key per matcher. Outputs are checked bit for bit against ``golden.sic``.
2. **Storage**: bits of every memory of the unit, the layouter's against the published
   16 KB window.
3. **Agreement** (pure Python, ``--agreement``): decisions of the bit-exact model
   (``golden.sic``) against the float64 tensor-level model (``golden.algorithm``) at the
   published settings (theta 0.9, window 2x2x2, V = 32, m_tile 1024) on the realistic
   workload at D = ``--dim``, for int8 and fp16, fed (a) the same operands and (b) the
   original float32 tokens.
"""

import argparse
import itertools
import json
import time

import numpy as np

from gen.blocks import block_component
from gen.config import CONFIGS
from gen.generate import block_design
from golden import sic
from golden.algorithm import similarity_concentration
from golden.workloads import GEOMETRIES, video_tokens
from sim_cocotb.formats import golden_format
from sim_cocotb.runner import PROJECT_ROOT, run_testbench

PUBLISHED_CYCLES_PER_KEY = 8   # "gather = 8 cycles per vector per matcher"
PUBLISHED_WINDOW_BYTES = 16 * 1024


def unit(dtype, rows, matchers, m_tile, window_vectors, geometry, matcher_width=None,
         collector_lanes=None):
    """A configuration and the design of its gather unit."""
    config = CONFIGS["paper"].replace(dtype=dtype, rows=rows, matchers=matchers,
                                      m_tile=m_tile, window_vectors=window_vectors,
                                      max_tokens=GEOMETRIES[geometry].n_tokens,
                                      matcher_width=matcher_width,
                                      collector_lanes=collector_lanes)
    return config, block_design(config, "similarity_gather")


def result_name(dtype, rows, matchers, matcher_width=None, collector_lanes=None):
    """File stem of one benchmark run (``sic-fp16-v32-m1``, ``...-w16-l2`` when folded)."""
    name = f"sic-{dtype}-v{rows}-m{matchers}"
    if matcher_width is not None or collector_lanes is not None:
        name += f"-w{matcher_width or rows}-l{collector_lanes or rows}"
    return name


def bench_cycles(dtype, rows, matchers, m_tile, window_vectors, geometry, keep, out_dir,
                 matcher_width=None, collector_lanes=None):
    config, design = unit(dtype, rows, matchers, m_tile, window_vectors, geometry,
                          matcher_width, collector_lanes)
    dut = design.component
    shape = GEOMETRIES[geometry]
    dut.check_registers(frame_stride=shape.frame_stride, row_stride=shape.row_stride,
                        theta2=sic.theta_register(0.9), tile_length=m_tile)
    name = result_name(dtype, rows, matchers, matcher_width, collector_lanes)
    result_file = out_dir / f"{name}.json"
    params = {"dtype": dtype, "rows": rows, "m_tile": m_tile, "window": list(config.window),
              "window_vectors": window_vectors, "matchers": matchers,
              "matcher_width": dut.matcher_width, "collector_lanes": dut.collector_lanes,
              "position_bits": dut.position_bits, "geometry": geometry, "keep": keep,
              "result": str(result_file)}
    started = time.perf_counter()
    run_testbench(design, "sim_cocotb.tb_bench_sic", params=params,
                  seed=1, test_dir=out_dir / name)
    return {"dtype": dtype, "rows": rows, "matchers": matchers, "m_tile": m_tile,
            "matcher_width": dut.matcher_width, "collector_lanes": dut.collector_lanes,
            "cycles_per_key": dut.cycles_per_key,
            "beats_per_key": dut.beats_per_key, "flush": dut.flush_cycles,
            "drain_latency": dut.drain_latency, "storage": dut.storage_bits,
            "seconds": time.perf_counter() - started,
            "runs": json.loads(result_file.read_text())}


def cycles_table(results, geometry):
    shape = GEOMETRIES[geometry]
    lines = [
        f"Workload: one 32-channel slot of `video_tokens('{geometry}', V)` "
        f"({shape.frames} frames x {shape.rows} x {shape.cols}, FS {shape.frame_stride}, "
        f"HS {shape.row_stride}), theta 0.9; `keep` = fraction of positions kept (random "
        "SEC-like pruning). Tile period = cycles from a tile's first key to the next tile's "
        "first key (matching + flush + drain); cycles/key = all cycles / keys.",
        "",
        "| dtype | matchers | matcher width | collector lanes | keep | keys | tiles | groups | "
        "key interval in a tile (formula) | tile period (full tiles) | "
        "flush + drain per full tile | cycles / key | published model: 8 / matchers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for run in result["runs"]:
            periods = run["tile_periods"]
            period = int(np.median(periods)) if periods else run["cycles"]
            full_keys = run["tile_keys"][0]
            overhead = period - full_keys * run["key_interval_median"]
            lines.append(
                f"| {result['dtype']} | {result['matchers']} | {result['matcher_width']} | "
                f"{result['collector_lanes']} | {run['keep']:.2f} | "
                f"{run['keys']} | {run['tiles']} | {run['groups']} | "
                f"{run['key_interval_median']:.0f} ({result['cycles_per_key']}) | {period} | "
                f"{overhead:.0f} | "
                f"{run['cycles'] / run['keys']:.2f} | "
                f"{PUBLISHED_CYCLES_PER_KEY / result['matchers']:.2f} |")
    return "\n".join(lines)


def storage_table(storage, dtype, rows):
    lines = [f"Storage of the unit ({dtype}, V = {rows}, paper m_tile and window_vectors):",
             "", "| memory | bits | KiB |", "|---|---:|---:|"]
    for name, bits in storage.items():
        lines.append(f"| {name} | {bits} | {bits / 8192:.2f} |")
    window = storage["layouter vectors"]
    lines.append("")
    lines.append(f"Layouter vector buffer: {window} bits = {window / 8192:.1f} KiB against the "
                 f"published {PUBLISHED_WINDOW_BYTES // 1024} KiB window "
                 f"({100 * window / 8 / PUBLISHED_WINDOW_BYTES:.0f} %); with the squared norms "
                 f"and valid flags {sum(v for k, v in storage.items() if 'layouter' in k) / 8192:.1f}"
                 " KiB.")
    return "\n".join(lines)


def agreement(dtype, geometry, dim, keep, seed=0, theta=0.9, vector_size=32, m_tile=1024):
    """Identical decisions and choices: bit-exact model vs the float64 tensor-level model."""
    shape = GEOMETRIES[geometry]
    tokens = video_tokens(shape, dim, seed=seed)
    kept = np.flatnonzero(np.random.default_rng(seed).random(tokens.shape[0]) < keep)
    tokens = tokens[kept]
    arith = golden_format(dtype)
    operands = arith.to_operands(tokens)
    values = arith.operand_values(operands)
    references = {
        "same operands": similarity_concentration(values, vector_size=vector_size,
                                                  threshold=theta, m_tile=m_tile,
                                                  positions=kept, **shape.strides),
        "float32 tokens": similarity_concentration(tokens, vector_size=vector_size,
                                                   threshold=theta, m_tile=m_tile,
                                                   positions=kept, **shape.strides),
    }
    similar = np.zeros((len(kept), dim // vector_size), dtype=bool)
    choice = np.zeros(similar.shape, dtype=np.int64)
    for slot in range(similar.shape[1]):
        tiles = sic.gather(arith, operands[:, slot * vector_size:(slot + 1) * vector_size],
                           kept, window=(2, 2, 2), m_tile=m_tile,
                           theta2=sic.theta_register(theta), **shape.strides)
        similar[:, slot] = np.concatenate([tile.similar for tile in tiles])
        choice[:, slot] = np.concatenate([tile.choice for tile in tiles])
    rows = []
    for name, reference in references.items():
        both = similar & reference.similar
        rows.append({
            "dtype": dtype, "keep": keep, "reference": name, "vectors": int(similar.size),
            "decisions": float(np.mean(similar == reference.similar)),
            "differing": int(np.sum(similar != reference.similar)),
            "choices": float(np.mean(choice[both] == reference.choice[both])),
            "sparsity_model": float(np.mean(similar | reference.zero)),  # zero: same test
            "sparsity_reference": reference.sparsity,
        })
    return rows


def agreement_table(rows, geometry, dim):
    lines = [f"`{geometry}` tokens at D = {dim} (all {dim // 32} slots of V = 32), theta 0.9, "
             "window 2x2x2, m_tile 1024; `keep` = fraction of positions kept.", "",
             "| dtype | keep | tensor-level model fed | vectors | identical decisions | "
             "differing | identical choice where both similar | sparsity (bit-exact) | "
             "sparsity (float64) |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['dtype']} | {row['keep']:.1f} | {row['reference']} | "
                     f"{row['vectors']} | {100 * row['decisions']:.3f} % | {row['differing']} | "
                     f"{100 * row['choices']:.3f} % | {100 * row['sparsity_model']:.2f} % | "
                     f"{100 * row['sparsity_reference']:.2f} % |")
    return "\n".join(lines)


def _numbers(text):
    """``"1,7"`` -> ``[1, 7]``; ``""`` -> ``[None]`` (the default)."""
    return [int(v) for v in text.split(",")] if text else [None]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", action="append", help="int8 and/or fp16 (default int8)")
    parser.add_argument("--matchers", default="1,7")
    parser.add_argument("--matcher-width", default="",
                        help="multipliers per matcher, comma-separated (default V: not folded)")
    parser.add_argument("--collector-lanes", default="",
                        help="collector means per cycle, comma-separated (default V)")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--m-tile", type=int, default=1024)
    parser.add_argument("--window-vectors", type=int, default=256)
    parser.add_argument("--geometry", default="llava-video")
    parser.add_argument("--keep", default="1.0,0.4")
    parser.add_argument("--agreement", action="store_true",
                        help="also measure model agreement (pure Python, ~minutes at D=3584)")
    parser.add_argument("--no-cycles", action="store_true", help="skip the Verilator runs")
    parser.add_argument("--dim", type=int, default=3584)
    args = parser.parse_args(argv)
    out_dir = PROJECT_ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = [float(k) for k in args.keep.split(",")]
    dtypes = args.dtype or ["int8"]
    report = ["# SIC gather benchmark (`python -m sim_cocotb.bench_sic`)", ""]
    if not args.no_cycles:
        results = []
        for dtype in dtypes:
            for matchers, width, lanes in itertools.product(
                    _numbers(args.matchers), _numbers(args.matcher_width),
                    _numbers(args.collector_lanes)):
                results.append(bench_cycles(dtype, args.rows, matchers, args.m_tile,
                                            args.window_vectors, args.geometry, keep, out_dir,
                                            width, lanes))
                print(f"{result_name(dtype, args.rows, matchers, width, lanes)}: "
                      f"{results[-1]['seconds']:.0f} s", flush=True)
        report += ["## Cycles", "", cycles_table(results, args.geometry), ""]
    for dtype in dtypes:
        config = CONFIGS["paper"].replace(dtype=dtype, rows=args.rows, m_tile=args.m_tile,
                                          window_vectors=args.window_vectors,
                                          matcher_width=None, collector_lanes=None)
        report += [f"## Storage ({dtype})", "",
                   storage_table(block_component(config, "similarity_gather").storage_bits,
                                 dtype, args.rows), ""]
    if args.agreement:
        rows = []
        for dtype in ("int8", "fp16"):
            for fraction in keep:
                started = time.perf_counter()
                rows += agreement(dtype, args.geometry, args.dim, fraction)
                print(f"agreement {dtype} keep {fraction}: "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
        report += ["## Agreement with the tensor-level model", "",
                   agreement_table(rows, args.geometry, args.dim), ""]
    text = "\n".join(report)
    print(text)
    (out_dir / "sic.md").write_text(text + "\n")
    print(f"written {out_dir / 'sic.md'}")


if __name__ == "__main__":
    main()
