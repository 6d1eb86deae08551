"""Command line of the tensor-level golden model.

``python -m golden sparsity``  sparsity report of SIC (optionally after SEC) on a
                               realistic workload or on your own ``.npy`` activations.
``python -m golden bench``     wall time and peak memory of ``similarity_concentration``
                               on a LLaVA-Video-sized input (``make bench-golden``).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
import tracemalloc

import numpy as np

from golden import algorithm, workloads

MIB = 1 << 20


class ProgressBar:
    """A minimal text progress bar on stderr, drawn only for runs longer than ``delay``.

    Call it as ``bar(done, total)``; use it as a context manager to end the line.
    """

    def __init__(self, label: str, *, enabled: bool = True, stream=None, delay: float = 0.5, width: int = 30):
        self.label = label
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.delay = delay
        self.width = width
        self.start = time.monotonic()
        self.last = -math.inf
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not self.enabled or now - self.start < self.delay or (now - self.last < 0.1 and not finished):
            return
        fraction = done / total if total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction:6.1%} {now - self.start:5.1f} s")
        self.stream.flush()
        self.last = now
        self.shown = True

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------------------


def _window(text: str) -> tuple[int, int, int]:
    """Parse a window written as ``2x2x2`` or ``2,2,2``."""
    parts = text.replace(",", "x").lower().split("x")
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"window must look like 2x2x2, got {text!r}") from None
    if len(sizes) != 3 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"window needs three sizes >= 1, got {text!r}")
    return sizes  # type: ignore[return-value]


def _add_sic_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("similarity concentration (SIC)")
    group.add_argument("--threshold", type=float, default=0.9, help="cosine threshold theta (default 0.9)")
    group.add_argument("--window", type=_window, default=(2, 2, 2), help="frames x rows x cols window (default 2x2x2)")
    group.add_argument("--vector-size", type=int, default=32, help="channels per vector V (default 32)")
    group.add_argument("--m-tile", type=int, default=1024, help="retained tokens per GEMM tile (default 1024)")


def _add_workload_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("geometry and synthetic workload")
    group.add_argument(
        "--geometry",
        choices=sorted(workloads.GEOMETRIES),
        default="llava-video",
        help="token geometry (default llava-video); gives FS/HS and the synthetic video",
    )
    group.add_argument("--frames", type=int, help="custom geometry: frames")
    group.add_argument("--rows", type=int, help="custom geometry: token rows per frame")
    group.add_argument("--cols", type=int, help="custom geometry: token columns per frame")
    group.add_argument("--frame-stride", type=int, help="FS (default: from the geometry)")
    group.add_argument("--row-stride", type=int, help="HS (default: from the geometry)")
    group.add_argument("--dim", type=int, default=3584, help="channels D of the synthetic tokens (default 3584)")
    group.add_argument("--seed", type=int, default=0, help="video seed (default 0)")
    group.add_argument("--motion", type=float, default=0.25, help="camera pan, patches per frame (default 0.25)")
    group.add_argument("--noise", type=float, default=0.01, help="pixel noise std (default 0.01)")
    group.add_argument("--shot-frames", type=int, default=16, help="frames per shot (default 16)")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m golden`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m golden", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser(
        "sparsity",
        help="SIC sparsity report (zero / similar / unique, group sizes, compression)",
        description="Run similarity concentration (optionally after SEC pruning) and report "
        "the sparsity breakdown, the group-size histogram and the compression ratio.",
    )
    _add_workload_options(report)
    own = report.add_argument_group("your own data")
    own.add_argument("--input", metavar="FILE.npy", help="(S, D) or (1, S, D) activations to analyse instead of a synthetic video")
    own.add_argument("--positions", metavar="FILE.npy", help="original positions of the --input rows (default 0..S-1)")
    own.add_argument(
        "--importance",
        metavar="FILE.npy",
        help="SEC importance (M,) or attention probabilities (heads, text_rows, M) for --keep",
    )
    sec = report.add_argument_group("semantic concentration (SEC) before SIC")
    sec.add_argument("--keep", type=float, help="keep floor(KEEP * S) most important tokens before SIC")
    sec.add_argument("--concentration", type=float, default=4.0, help="synthetic attention concentration (default 4)")
    _add_sic_options(report)
    out = report.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    report.set_defaults(handler=run_sparsity)

    bench = commands.add_parser(
        "bench",
        help="time and peak memory of similarity_concentration on a LLaVA-Video-sized input",
        description="Benchmark similarity_concentration on a synthetic LLaVA-Video-sized input "
        "(S = 11648 = 64 x 13 x 14, D = 3584 by default). Wall time is measured without "
        "tracing; peak memory with tracemalloc in a separate run, and the process peak RSS "
        "(getrusage ru_maxrss) is printed too.",
    )
    bench.add_argument("--geometry", choices=sorted(workloads.GEOMETRIES), default="llava-video")
    bench.add_argument("--dim", type=int, default=3584, help="channels D (default 3584)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
    _add_sic_options(bench)
    bench.set_defaults(handler=run_bench)
    return parser


# --------------------------------------------------------------------------------------
# sparsity
# --------------------------------------------------------------------------------------


def _geometry(args) -> workloads.Geometry:
    """The named geometry, or a custom one when --frames/--rows/--cols are given."""
    base = workloads.GEOMETRIES[args.geometry]
    custom = [args.frames, args.rows, args.cols]
    if any(value is not None for value in custom):
        frames, rows, cols = (given if given is not None else default
                              for given, default in zip(custom, (base.frames, base.rows, base.cols)))
        row_stride = args.row_stride or cols
        return workloads.Geometry("custom", frames, rows, cols, args.frame_stride or rows * row_stride, row_stride)
    if args.frame_stride or args.row_stride:
        return workloads.Geometry(
            f"{base.name} (strides overridden)",
            base.frames,
            base.rows,
            base.cols,
            args.frame_stride or base.frame_stride,
            args.row_stride or base.row_stride,
            base.segments,
        )
    return base


def _load_npy(path: str, name: str) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: cannot read {name} {path!r} as a .npy array: {error}") from None


def _load_tokens(args, geometry) -> tuple[np.ndarray, str]:
    """The (S, D) tokens to analyse and a description of where they came from."""
    if args.input:
        tokens = _load_npy(args.input, "--input")
        if tokens.ndim == 3 and tokens.shape[0] == 1:
            tokens = tokens[0]
        if tokens.ndim != 2:
            raise SystemExit(f"error: --input must have shape (S, D) or (1, S, D), got {tokens.shape}")
        return tokens, f"{args.input} ({tokens.shape[0]} x {tokens.shape[1]}, {tokens.dtype})"
    with ProgressBar("rendering video", enabled=not args.no_progress) as bar:
        tokens = workloads.video_tokens(
            geometry, args.dim, seed=args.seed, motion=args.motion, noise=args.noise,
            shot_frames=args.shot_frames, progress=bar,
        )
    return tokens, (
        f"synthetic video, {geometry.describe()}, D = {args.dim}, seed {args.seed}, "
        f"motion {args.motion}, noise {args.noise}, shot {args.shot_frames} frames"
    )


def _positions(args, count: int) -> np.ndarray:
    if not args.positions:
        return np.arange(count)
    positions = np.asarray(_load_npy(args.positions, "--positions"))
    if positions.shape != (count,):
        raise SystemExit(f"error: --positions must have shape ({count},), got {positions.shape}")
    return positions


def _sec_keep(args, tokens: np.ndarray) -> np.ndarray:
    """Indices kept by one SEC stage with ratio --keep (all rows without --keep)."""
    count = tokens.shape[0]
    if args.keep is None:
        return np.arange(count)
    if args.importance:
        scores = np.asarray(_load_npy(args.importance, "--importance"))
        scores = algorithm.token_importance(scores) if scores.ndim == 3 else scores
    else:
        probs = workloads.attention_probs(tokens, concentration=args.concentration, seed=args.seed)
        scores = algorithm.token_importance(probs)
    if scores.shape != (count,):
        raise SystemExit(f"error: importance must cover the {count} tokens, got shape {scores.shape}")
    k = algorithm.stage_sizes(count, [args.keep])[0]
    return algorithm.select_tokens(scores, k)


def _size_histogram(sizes: np.ndarray) -> list[dict]:
    """Group sizes in power-of-two bins: 1, 2, 3-4, 5-8, ..."""
    rows = []
    total_groups, total_vectors = sizes.size, int(sizes.sum())
    low = 1
    while sizes.size and low <= sizes.max():
        high = 1 if low == 1 else 2 * (low - 1)
        chosen = sizes[(sizes >= low) & (sizes <= high)]
        rows.append({
            "sizes": f"{low}" if low == high else f"{low}-{high}",
            "groups": int(chosen.size),
            "group_share": chosen.size / total_groups,
            "vectors": int(chosen.sum()),
            "vector_share": int(chosen.sum()) / total_vectors,
        })
        low = high + 1
    return rows


def _candidate_table(result: algorithm.SimilarityResult, window) -> list[dict]:
    """How often each candidate of the window was the chosen one."""
    counts = np.bincount(result.choice[result.choice >= 0].astype(np.int64), minlength=len(result.offsets))
    cells = [cell for cell in np.ndindex(*window)][1:]
    similar = max(1, result.n_similar)
    return [
        {"window": "x".join(map(str, cell)), "offset": int(offset), "chosen": int(count), "share": count / similar}
        for cell, offset, count in zip(cells, result.offsets, counts)
    ]


NEAR = 1e-3  # about one fp16 / bf16 rounding step of a cosine near 0.9


def _near_threshold(result: algorithm.SimilarityResult, threshold: float) -> float:
    """Share of non-zero vectors whose best cosine lies within NEAR of the threshold."""
    live = ~result.zero
    count = int(np.count_nonzero(live))
    return int(np.count_nonzero(np.abs(result.best[live] - threshold) < NEAR)) / count if count else 0.0


def summarise(result: algorithm.SimilarityResult, *, source: str, settings: dict, original_tokens: int,
              seconds: float) -> dict:
    """Everything the report prints, as plain data (also the --json output)."""
    vectors_per_token = result.similar.shape[1]
    retained = result.similar.shape[0]
    summary = {
        "input": source,
        "settings": settings,
        "tokens": {"original": original_tokens, "retained": retained},
        "vectors_per_token": vectors_per_token,
        "vectors": {"all": result.n_vectors, "zero": result.n_zero, "similar": result.n_similar, "unique": result.n_unique},
        "sparsity": result.sparsity,
        "near_threshold": _near_threshold(result, settings["threshold"]),
        "compression_ratio": result.compression_ratio if result.n_unique else None,
        "group_sizes": _size_histogram(result.group_sizes()),
        "chosen_candidates": _candidate_table(result, settings["window"]),
        "seconds": seconds,
    }
    if original_tokens != retained:
        dense = original_tokens * vectors_per_token
        summary["sparsity_vs_dense_unpruned"] = 1.0 - result.n_unique / dense if dense else 0.0
    return summary


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:6.2f} %" if whole else "     - %"


def format_report(summary: dict) -> str:
    """Human-readable sparsity report."""
    settings, counts, tokens = summary["settings"], summary["vectors"], summary["tokens"]
    window = "x".join(map(str, settings["window"]))
    lines = [
        "Focus similarity concentration (SIC) sparsity report",
        f"input     {summary['input']}",
        f"settings  theta {settings['threshold']}, window {window} ({len(summary['chosen_candidates'])} candidates), "
        f"V = {settings['vector_size']} ({summary['vectors_per_token']} vectors/token), "
        f"m_tile {settings['m_tile']}, FS {settings['frame_stride']}, HS {settings['row_stride']}",
    ]
    if tokens["original"] != tokens["retained"]:
        lines.append(f"SEC       kept {tokens['retained']} of {tokens['original']} tokens before SIC")
    total = counts["all"]
    lines += [
        "",
        f"vectors   {total:>12,}  100.00 %",
        f"  zero    {counts['zero']:>12,}  {_percent(counts['zero'], total)}",
        f"  similar {counts['similar']:>12,}  {_percent(counts['similar'], total)}",
        f"  unique  {counts['unique']:>12,}  {_percent(counts['unique'], total)}",
        f"{'sparsity (zero + similar) / all':<40}{100.0 * summary['sparsity']:.2f} %",
    ]
    ratio = summary["compression_ratio"]
    lines.append(f"{'compression ratio (all / unique)':<40}" + (f"{ratio:.2f} x" if ratio else "inf"))
    if "sparsity_vs_dense_unpruned" in summary:
        lines.append(f"{'sparsity vs dense unpruned input':<40}{100.0 * summary['sparsity_vs_dense_unpruned']:.2f} %")
    lines.append(f"{f'best cosine within +-{NEAR:g} of theta':<40}"
                 f"{100.0 * summary['near_threshold']:.2f} % of non-zero vectors")
    lines += ["", "group sizes (one group = one unique vector)", "  size        groups   of groups     vectors  of vectors"]
    for row in summary["group_sizes"]:
        lines.append(
            f"  {row['sizes']:>9} {row['groups']:>12,}  {100 * row['group_share']:8.2f} % "
            f"{row['vectors']:>11,}  {100 * row['vector_share']:8.2f} %"
        )
    lines += ["", "chosen candidate (df x dh x dw, linear offset) of the similar vectors"]
    for row in summary["chosen_candidates"]:
        lines.append(f"  {row['window']:>7} {row['offset']:>7} {row['chosen']:>12,}  {100 * row['share']:6.2f} %")
    lines.append(f"\nSIC time  {summary['seconds']:.2f} s")
    return "\n".join(lines)


def run_sparsity(args) -> int:
    geometry = _geometry(args)
    tokens, source = _load_tokens(args, geometry)
    positions = _positions(args, tokens.shape[0])
    keep = _sec_keep(args, tokens)
    settings = {
        "threshold": args.threshold,
        "window": list(args.window),
        "vector_size": args.vector_size,
        "m_tile": args.m_tile,
        "frame_stride": geometry.frame_stride,
        "row_stride": geometry.row_stride,
    }
    start = time.perf_counter()
    with ProgressBar("similarity concentration", enabled=not args.no_progress) as bar:
        try:
            result = algorithm.similarity_concentration(
                tokens[keep] if keep.size != tokens.shape[0] else tokens,
                frame_stride=geometry.frame_stride,
                row_stride=geometry.row_stride,
                window=args.window,
                vector_size=args.vector_size,
                threshold=args.threshold,
                m_tile=args.m_tile,
                positions=positions[keep],
                progress=bar,
            )
        except (TypeError, ValueError) as error:
            raise SystemExit(f"error: {error}") from None
    seconds = time.perf_counter() - start
    summary = summarise(result, source=source, settings=settings, original_tokens=tokens.shape[0], seconds=seconds)
    print(json.dumps(summary, indent=2) if args.json else format_report(summary))
    return 0


# --------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    """Process peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bench(args) -> int:
    geometry = workloads.GEOMETRIES[args.geometry]
    start = time.perf_counter()
    tokens = workloads.video_tokens(geometry, args.dim, seed=args.seed)
    generated = time.perf_counter() - start
    options = dict(
        frame_stride=geometry.frame_stride,
        row_stride=geometry.row_stride,
        window=args.window,
        vector_size=args.vector_size,
        threshold=args.threshold,
        m_tile=args.m_tile,
    )
    print("Focus golden model benchmark: similarity_concentration")
    print(f"input     {geometry.describe()}, D = {args.dim}, {tokens.dtype} "
          f"({tokens.nbytes / MIB:.1f} MiB), synthetic video seed {args.seed} (rendered in {generated:.2f} s)")
    print(f"settings  theta {args.threshold}, window {'x'.join(map(str, args.window))}, "
          f"V = {args.vector_size}, m_tile {args.m_tile}")
    times = []
    for run in range(max(1, args.repeat)):
        start = time.perf_counter()
        result = algorithm.similarity_concentration(tokens, **options)
        times.append(time.perf_counter() - start)
        print(f"run {run + 1}     {times[-1]:.2f} s wall")
        del result
    tracemalloc.start()
    result = algorithm.similarity_concentration(tokens, **options)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"time      best {min(times):.2f} s, median {statistics.median(times):.2f} s, worst {max(times):.2f} s "
          f"(wall clock, {len(times)} runs, no tracing)")
    print(f"memory    {peak / MIB:.0f} MiB peak allocated during one call (tracemalloc; input not counted), "
          f"{(peak + tokens.nbytes) / MIB:.0f} MiB with the input")
    print(f"          {_peak_rss_mib():.0f} MiB process peak RSS (getrusage ru_maxrss: Python, NumPy, "
          f"scikit-image, workload rendering and all runs)")
    print(f"result    sparsity {100 * result.sparsity:.2f} %, compression ratio {result.compression_ratio:.2f} x")
    return 0


def main(argv=None) -> int:
    """Entry point of ``python -m golden``."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        sys.exit(1)
