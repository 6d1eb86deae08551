"""Benchmark figures recorded in ``docs/*.md``, transcribed with their provenance.

These feed ``python -m perf calibrate --from-docs``, which writes the committed calibration
tables for the ``paper`` and ``small`` configurations without re-running the (40-minute)
paper-size simulations. Every number names the document, table and row it comes from; the
values that are derived from a formula rather than measured say so.
"""

from __future__ import annotations

__all__ = ["RECORDED"]

_ENGINE_PAPER = ("docs/engine.md, 'Paper size' ({table}), row '{workload}' "
                 "(measured at commit 'ScatterAccumulator: the read-out starts with a tile's "
                 "last slice', before the output-FIFO fix)")
_ENGINE_MEDIUM = ("docs/engine.md, 'Measured cycles (make bench)' table, row int8 / {matchers} "
                  "matcher(s) / {workload} (measured 2026-11-24 after the output-FIFO fix)")


def _paper_runs():
    runs = []
    tables = [("4 K-slices, 4 tiles", 4, 4, {"dense": (16384, 17891, "check"),
                                             "video (llava-video)": (972, 30547, "held-out"),
                                             "all similar": (16, 30437, "held-out")}),
              ("--slices 112 --tiles 2", 112, 2, {"dense": (229376, 230883, "fit"),
                                                  "video (llava-video)": (18926, 121942, "fit"),
                                                  "all similar": (224, 121862, "held-out")}),
              ("--slices 112 --tiles 4", 112, 4, {"dense": (458752, 460259, "fit"),
                                                  "video (llava-video)": (37852, 237320, "fit"),
                                                  "all similar": (448, 237242, "held-out")})]
    for table, slices, tiles, rows in tables:
        for workload, (vectors, cycles, role) in rows.items():
            runs.append({"workload": workload, "mode": "dense" if workload == "dense" else "focus",
                         "dtype": "fp16", "matchers": 1, "tokens": 1024, "slices": slices,
                         "tiles": tiles, "vectors": vectors, "cycles": cycles, "role": role,
                         "source": _ENGINE_PAPER.format(table=table, workload=workload)})
    return runs


def _medium_runs():
    rows = [("dense", 1, 4096, 4197, "fit"), ("video (small)", 1, 712, 3958, "held-out"),
            ("all similar", 1, 64, 3943, "held-out"), ("video (small)", 7, 712, 2184, "fit"),
            ("all similar", 7, 64, 2169, "held-out")]
    return [{"workload": workload, "mode": "dense" if workload == "dense" else "focus",
             "dtype": "int8", "matchers": matchers, "tokens": 64, "slices": 8, "tiles": 8,
             "vectors": vectors, "cycles": cycles, "role": role,
             "source": _ENGINE_MEDIUM.format(matchers=matchers, workload=workload)}
            for workload, matchers, vectors, cycles, role in rows]


_SEC_PAPER = [  # docs/sec.md, 'Benchmark' table (fp16, a = 32, N = 12800, B = 8)
    {"M": 1024, "k": 410, "vectors": 128, "accept_cycles": 128, "to_last_code": 13751,
     "formula": 13751},
    {"M": 4096, "k": 1638, "vectors": 512, "accept_cycles": 512, "to_last_code": 214639,
     "formula": 214639},
    {"M": 11648, "k": 1164, "vectors": 1456, "accept_cycles": 1456, "to_last_code": 432167,
     "formula": 432167},
    {"M": 11648, "k": 4659, "vectors": 1456, "accept_cycles": 1456, "to_last_code": 1705289,
     "formula": 1705289},
]
_SEC_SOURCE = ("docs/sec.md, 'Benchmark' table (fp16, sort_width 32, max_tokens 12800, "
               "offset_bits 8): analyzer vectors / cycles and 'first token -> last code' vs "
               "'sorter model alone' (golden.sec.sorter_cycles)")

#: Per configuration: the engine bench's hardware, raw figures and the model values that are
#: not fitted from the engine runs.
RECORDED = {
    "paper": {
        "engine_config": {"dtype": "fp16", "rows": 32, "cols": 32, "m_tile": 1024,
                          "scatter_lanes": 2, "window_vectors": 256, "max_tokens": 12800},
        "engine_runs": _paper_runs(),
        "array": {
            "values": {"array_min_period": 94, "array_latency": 98, "array_first_load": 32},
            "measurements": [{"p": 1024, "folds": 224, "fold_period": 1024, "source":
                              "docs/engine.md, paper dense row with --slices 112 --tiles 2: "
                              "99.3 % utilization, each fold at the array's rate"}],
            "provenance": {
                "array_min_period": "DERIVED, not measured (the 32x32 fp16 array bench has not "
                                    "run): reload_gap + rows - 1 with reload_gap = cols + "
                                    "(rows - 1)(add_latency - 1) = 63 (docs/array.md formula; "
                                    "fp16 add_latency 2, docs/array.md 8x8 fp16 reload gap 15)",
                "array_latency": "DERIVED: rows * add_latency + mul_latency + cols + 1 "
                                 "(docs/array.md 'Flow control') with fp16 latencies 2 and 1",
                "array_first_load": "rows beats per weight tile (docs/array.md 'Streams')",
            },
        },
        "gather": {
            "1-w16-l2": {"key_interval": 16, "flush": 37, "tile_period": 16421, "keys": 1024,
                         "source": "docs/sic.md, throughput table, fp16 matcher width 16, "
                                   "collector lanes 2, keep 1.00 row: key interval 16, tile "
                                   "period 16421 for 1024 keys, flush 37 (the paper default)"},
            "1": {"key_interval": 7, "flush": 19, "tile_period": 7187, "keys": 1024,
                  "source": "docs/sic.md, previous full-width gather (no norm item: 7 beats "
                            "per key), fp16 one-matcher row: key interval 7, tile period 7187 "
                            "for 1024 keys, flush 19; the recorded engine runs were measured "
                            "with this gather"},
            "7": {"key_interval": 1, "flush": 16, "tile_period": 1040, "keys": 1024,
                  "source": "docs/sic.md, int8 table, 7 matchers keep 1.00 row (fp16 with "
                            "seven matchers was not run at paper size)"},
        },
        "sec": {"measurements": _SEC_PAPER, "source": _SEC_SOURCE},
        "fixed_overhead_focus": None,
        "fixed_overhead_dense": None,
        "notes": ["The paper-size engine figures predate the output-FIFO fix (docs/engine.md: "
                  "about 345 cycles per tile at that size, fixed since); tile_overhead_focus "
                  "is therefore pessimistic. Re-measure with `make calibrate CONFIG=paper` "
                  "(40 minutes) to refresh it.",
                  "The engine runs were measured with the previous full-width gather (7 "
                  "cycles per key) and are predicted with its figures (gather design '1'); "
                  "the model's gather figures are those of the paper default (matcher width "
                  "16, collector lanes 2, 16 cycles per key), measured by bench_sic."],
    },
    "small": {
        "engine_config": {"dtype": "int8", "rows": 8, "cols": 8, "m_tile": 64,
                          "scatter_lanes": 2, "window_vectors": 64, "max_tokens": 512},
        "engine_runs": _medium_runs(),
        "array": {
            "values": {"array_min_period": 15, "array_latency": 17, "array_first_load": 8},
            "measurements": [{"p": 8, "folds": 8, "fold_period": 15},
                             {"p": 32, "folds": 8, "fold_period": 32},
                             {"p": 256, "folds": 8, "fold_period": 256}],
            "provenance": {
                "array_min_period": "docs/array.md, 8x8 table, int8 row: steady fold period "
                                    "15 at p = 8 (reload gap 8 + rows - 1)",
                "array_latency": "docs/array.md, 8x8 table: int8 latency 17",
                "array_first_load": "rows beats per weight tile (docs/array.md 'Streams')",
            },
        },
        "gather": {
            "1": {"key_interval": 7, "flush": 13, "tile_period": 7181, "keys": 1024,
                  "source": "docs/sic.md, int8 table, 1 matcher keep 1.00 row (measured at "
                            "V = 32, m_tile 1024; the small unit was not benchmarked)"},
            "7": {"key_interval": 1, "flush": 16, "tile_period": 1040, "keys": 1024,
                  "source": "docs/sic.md, int8 table, 7 matchers keep 1.00 row (V = 32, "
                            "m_tile 1024)"},
        },
        "sec": {"measurements": _SEC_PAPER, "source": _SEC_SOURCE + " (paper-size sorter; "
                "the rates are structural: one vector per cycle, exact formula)"},
        "fixed_overhead_focus": (5, "docs/engine.md, medium bench: 'a map-beat trace shows the "
                                    "only gaps inside the run are 5 cycles per tile'"),
        "fixed_overhead_dense": (0, "docs/engine.md, paper dense runs: the same 1,507 cycles "
                                    "above the folds for 4, 2 and 4 tiles, i.e. no per-tile "
                                    "cost (the medium dense run has one tile count only)"),
        "notes": ["The engine figures come from the medium bench engine (8x8 int8, m_tile 64, "
                  "sort_width 32, offset_bits 8), not the small configuration itself (m_tile "
                  "128, sort_width 8, offset_bits 4); the per-tile functions do not depend on "
                  "those parameters. The gather figures were measured at V = 32."],
    },
}
