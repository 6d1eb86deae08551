"""The test configurations: one table of named, small generator configurations.

The default regression verifies each entry through the same path as ``make verify``
(:func:`sim_cocotb.verify.verify`: generate, check the simulated files against the generated
ones, build, run the testbenches against the golden models), one test per entry and bench;
the per-block test files (``test_array.py``, ``test_sic.py``...) select their bench's entries.
The named configuration ``tiny`` is verified whole by ``test_verify.py``.

Each entry is a :class:`TestConfig`: a :class:`gen.config.FocusConfig`, the benches it runs
(:data:`sim_cocotb.verify.BENCHES`) and overrides of the testbench parameters that each
bench's ``stimulus`` derives from the configuration.
"""

import dataclasses

from gen.config import CONFIGS, FocusConfig

TINY = CONFIGS["tiny"]


@dataclasses.dataclass(frozen=True)
class TestConfig:
    """A configuration, the benches it runs, and testbench parameter overrides."""

    config: FocusConfig
    benches: tuple
    stimulus: dict = dataclasses.field(default_factory=dict)

    __test__ = False        # not a pytest class


def _array():
    entries = {}
    for rows, cols in ((2, 2), (4, 4), (4, 8), (8, 8)):
        for dtype in ("int8", "fp16"):
            entries[f"array-{dtype}-{rows}x{cols}"] = TestConfig(
                TINY.replace(dtype=dtype, rows=rows, cols=cols), ("systolic_array",))
    # fp16 with other unit pipeline depths than the default (2, 2): the array must be
    # correct for any latency of its arithmetic.
    for mul, add in ((2, 3), (1, 1)):
        entries[f"array-fp16-mul{mul}-add{add}"] = TestConfig(
            TINY.replace(dtype="fp16", mul_stages=mul, add_stages=add), ("systolic_array",))
    return entries


def _sic(name, dtype, rows, matchers, **folding):
    # every directed case fits (FS 12 / HS 4 and FS 42 / HS 7 windows); 9-bit positions
    return name, TestConfig(TINY.replace(dtype=dtype, rows=rows, m_tile=32, window_vectors=64,
                                         matchers=matchers, max_tokens=512, **folding),
                            ("similarity_gather",))


def _engine(dtype, rows, m_tile, lanes, slices, matchers, geometry):
    name = f"engine-{dtype}-{rows}x{rows}-m{m_tile}-l{lanes}-k{slices}-g{matchers}"
    config = CONFIGS["paper"].replace(dtype=dtype, rows=rows, cols=rows, m_tile=m_tile,
                                      scatter_lanes=lanes, matchers=matchers, window_vectors=64,
                                      max_tokens=512, matcher_width=None, collector_lanes=None)
    return name, TestConfig(config, ("focus_engine",), {"slices": slices, "geometry": geometry})


def _sec(name, dtype, sort_width, max_tokens, offset_bits):
    # the harness taps the top's internal streams (the top inline, its parts generated)
    return name, TestConfig(TINY.replace(dtype=dtype, sort_width=sort_width,
                                         max_tokens=max_tokens, offset_bits=offset_bits),
                            ("semantic_concentrator",), {"taps": True, "sort_cycles": None})


#: name -> :class:`TestConfig`
TEST_CONFIGS = {
    **_array(),
    **{f"scatter-{dtype}-c{cols}-m{m_tile}-l{lanes}": TestConfig(
        TINY.replace(dtype=dtype, cols=cols, m_tile=m_tile, scatter_lanes=lanes),
        ("scatter_accumulator",))
       for dtype, cols, m_tile, lanes in (("int8", 4, 16, 2), ("int8", 3, 13, 3),
                                          ("int8", 2, 8, 1))},
    **{f"converter-{dtype}-c4": TestConfig(TINY.replace(dtype=dtype, cols=4),
                                           ("output_converter",))
       for dtype in ("int8", "fp16")},
    **dict([
        _sic("sic-int8-v4-m1", "int8", 4, 1),
        _sic("sic-int8-v8-m7", "int8", 8, 7),
        _sic("sic-fp16-v4-m1", "fp16", 4, 1),
        # folded dot products (V / matcher_width cycles) and fewer mean lanes than V
        _sic("sic-int8-v8-m1-w2-c2", "int8", 8, 1, matcher_width=2, collector_lanes=2),
        _sic("sic-fp16-v8-m2-w4-c4", "fp16", 8, 2, matcher_width=4, collector_lanes=4),
        _sic("sic-fp16-v8-m3", "fp16", 8, 3),
    ]),
    **dict([
        # the "tiny" generator configuration: a = 4, 64 tokens, 3-bit codes
        _sec("sec-int8-a4", "int8", 4, 64, 3),
        # a not a power of two, buffer not a multiple of a, 2-bit codes (escape-heavy)
        _sec("sec-fp16-a5", "fp16", 5, 72, 2),
        # the published chain length
        _sec("sec-fp16-a32", "fp16", 32, 300, 4),
    ]),
    **dict([
        _engine("int8", 4, 32, 2, 4, 1, "tiny"),
        _engine("fp16", 4, 32, 2, 4, 7, "tiny"),
        _engine("int8", 8, 64, 2, 8, 7, "small"),        # the medium size of the issue
    ]),
}


def entries(bench):
    """Names of the test configurations that run ``bench``."""
    return [name for name, entry in TEST_CONFIGS.items() if bench in entry.benches]


def run_test_config(name, bench, *, seed, test_dir):
    """Verify test configuration ``name`` with ``bench`` (generating only its blocks, into
    ``test_dir``); fails with the first mismatch."""
    from sim_cocotb.verify import BENCHES_BY_NAME, verify
    entry = TEST_CONFIGS[name]
    report = verify(entry.config, name, seed=seed, benches=[bench], overrides=entry.stimulus,
                    blocks=BENCHES_BY_NAME[bench].blocks, verilog_dir=test_dir / "verilog",
                    report_dir=test_dir)
    assert report["passed"], f"{name}: {report['first_failure']} (log in {test_dir})"
