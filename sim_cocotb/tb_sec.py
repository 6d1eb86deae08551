"""cocotb testbench of the SEC blocks (``sim_cocotb.tb_sec_harness.SecHarness``).

Every check compares against the bit-exact models of ``golden.sec`` and, for selections, the
tensor-level ``golden.algorithm.select_tokens`` / ``decode_offsets``.
Parameters (:func:`sim_cocotb.runner.tb_params`): ``dtype``, ``sort_width``, ``max_tokens``,
``offset_bits``; optionally ``taps`` (default true: the harness taps the top's internal
streams; false: the top is the generator's module, the tap checks are left out) and
``sort_cycles`` (bound on ``ceil(k / a) * M`` of a layer: larger k are left out, except 1, a,
a + 1 and 2a, so that paper-size buffers stay within a bounded run). The importance format
(key width, raw codes, invalid values) is read from the golden number format of ``dtype``
(``sim_cocotb.formats.golden_format``).
"""

import random

import cocotb
import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from golden import sec as G
from golden.algorithm import decode_offsets, select_tokens, token_importance
from rtl.layouts import READ_REQUEST, code_beat, importance_beat, index_beat, probs_beat
from sim_cocotb.formats import golden_format
from sim_cocotb.runner import tb_params
from sim_cocotb.streams import StreamSink, StreamSource, first_difference

# (idle probability on the inputs, stall probability on the outputs)
FLOW_PATTERNS = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.5, 0.5)]

_INPUTS = ("probs", "an_probs", "an_read", "so_importance", "lp_indices", "dec_codes")
_OUTPUTS = ("codes", "an_importance", "so_read", "so_selected", "lp_indices_out",
            "dec_indices")


def pack_struct(layout, **values):
    """Bus value of a ``data.StructLayout`` payload (array fields given as sequences)."""
    word = 0
    for name, field in layout:
        value = values.get(name, 0)
        if isinstance(field.shape, data.ArrayLayout):
            width = Shape.cast(field.shape.elem_shape).width
            for i, element in enumerate(value):
                word |= (int(element) & ((1 << width) - 1)) << (field.offset + i * width)
        else:
            word |= (int(value) & ((1 << field.width) - 1)) << field.offset
    return word


def unpack_struct(layout, word):
    """Scalar fields of a ``data.StructLayout`` payload as a dict of ints."""
    return {name: (word >> field.offset) & ((1 << field.width) - 1) for name, field in layout}


def split_layers(beats, key):
    """Cut ``[{..., "last"}]`` beats into layers at ``last``; returns lists of ``key``."""
    layers, current = [], []
    for beat in beats:
        current.append(beat[key])
        if beat["last"]:
            layers.append(current)
            current = []
    assert not current, f"{len(current)} beats after the final last marker"
    return layers


def error_bits(names, flags):
    """Integer of the error bits ``flags`` (dict) in the order ``names``."""
    return sum(int(bool(flags[name])) << i for i, name in enumerate(names))


class TapMonitor:
    """Records the top's internal stream transfers with their cycle numbers."""

    def __init__(self, dut):
        self.dut = dut
        self.importance = []   # (cycle, value, last)
        self.selected = []     # (cycle, index, last)

    async def run(self):
        dut = self.dut
        while True:
            await ReadOnly()
            if int(dut.imp_tap_fire.value):
                self.importance.append((int(dut.cycle.value), int(dut.imp_tap_value.value),
                                        int(dut.imp_tap_last.value)))
            if int(dut.sel_tap_fire.value):
                self.selected.append((int(dut.cycle.value), int(dut.sel_tap_index.value),
                                      int(dut.sel_tap_last.value)))
            await RisingEdge(dut.clk)


class SecTB:
    """Clock, reset, stimulus generation and checks for one harness instance."""

    def __init__(self, dut, test_id):
        self.dut = dut
        params, seed = tb_params()
        self.arith = golden_format(params["dtype"])
        self.a, self.n = params["sort_width"], params["max_tokens"]
        self.bits = params["offset_bits"]
        self.width = self.arith.importance_width
        self.rng = np.random.default_rng([seed, test_id])
        self.probs_layout = probs_beat(self.width, self.a, self.n)
        self.importance_layout = importance_beat(self.width)
        self.index_layout = index_beat(self.n)
        self.code_layout = code_beat(self.bits)
        self.sec = dict(sort_width=self.a, max_tokens=self.n)
        self.taps = params.get("taps", True)
        self.sort_cycles = params.get("sort_cycles")
        dut._log.info("seed %d, test id %d, %s", seed, test_id, params)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    # --- plumbing ----------------------------------------------------------------------------
    async def reset(self):
        dut = self.dut
        dut.rst.value = 1
        for name in _INPUTS:
            getattr(dut, f"{name}__valid").value = 0
        for name in _OUTPUTS:
            getattr(dut, f"{name}__ready").value = 0
        dut.k.value = 1
        dut.so_k.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    def _py_rng(self):
        return random.Random(int(self.rng.integers(1 << 32)))

    def source(self, name, idle=0.0):
        return StreamSource(self.dut, name, self.dut.clk, idle=idle, rng=self._py_rng())

    def sink(self, name, stall=0.0):
        sink = StreamSink(self.dut, name, self.dut.clk, stall=stall, rng=self._py_rng())
        return sink, cocotb.start_soon(sink.run())

    # --- stimulus ----------------------------------------------------------------------------
    def random_probs(self, rows, count, style=None):
        """Raw probabilities ``(rows, count)``: random, heavily tied (values at the edges of
        the format, -0 too where it has one), or constant."""
        rng, arith = self.rng, self.arith
        style = style or rng.choice(["random", "ties", "constant"])
        if style == "random":
            raw = arith.random_importance(rng, (rows, count))
        elif style == "ties":
            raw = rng.choice(arith.importance_ties, size=(rows, count))
        else:
            raw = np.full((rows, count), arith.importance_codes(0.125))
        return np.asarray(raw, dtype=np.int64)

    def reference_selection(self, raw, k):
        """Tensor-level selection from the raw values (``golden.algorithm``).

        Values that are not probabilities (NaN, inf, negative) count as 0, as documented.
        """
        keys, invalid = self.arith.sanitize_importance(raw)
        values = keys if invalid.any() else self.arith.importance_values(raw)
        importance = token_importance(values[None])
        return select_tokens(importance, min(max(k, 1), importance.size))

    def probs_beats(self, beats):
        return [pack_struct(self.probs_layout, data=b.data, group=b.group, tokens=b.tokens,
                            last=b.last) for b in beats]

    def interesting_k(self, count):
        """k values the issue asks for: 1, M, multiples and non-multiples of a, random."""
        a = self.a
        candidates = {1, count, min(a, count), min(2 * a, count), min(a + 1, count),
                      max(1, count - 1), int(self.rng.integers(1, count + 1))}
        return sorted(k for k in candidates if k <= 2 * a or self.affordable(count, k))

    def affordable(self, count, k):
        """A layer of ``count`` tokens and ``k`` selections fits ``sort_cycles``."""
        return self.sort_cycles is None or -(-k // self.a) * count <= self.sort_cycles

    # --- the top -----------------------------------------------------------------------------
    async def run_top(self, layers, *, idle=0.0, stall=0.0, expect_errors=None):
        """Send ``layers`` = [(raw or beats, k), ...] through the top and check everything."""
        dut = self.dut
        monitor = TapMonitor(dut)
        monitor_task = cocotb.start_soon(monitor.run())
        sink, sink_task = self.sink("codes", stall)
        probs = self.source("probs", idle)
        expected = []
        for stimulus, k in layers:
            if isinstance(stimulus, list):
                beats = stimulus
            else:
                beats = G.probability_beats(stimulus, self.a, rng=self.rng)
            model = G.semantic_concentrator(self.arith, beats, k, **self.sec,
                                            offset_bits=self.bits)
            expected.append((stimulus, k, model))
            dut.k.value = k
            await probs.send(self.probs_beats(beats))
        total = sum(len(model.codes) for _, _, model in expected)
        budget = sum((model.sort.passes + 2) * (len(model.importance) + 2 * self.a) + 64
                     + 2 * len(model.codes) for _, _, model in expected)
        await sink.wait_for(total, timeout_cycles=int(budget / (1 - stall) + 100))
        await ClockCycles(dut.clk, 3)
        sink_task.cancel()
        monitor_task.cancel()
        beats = [unpack_struct(self.code_layout, word) for word in sink.beats]
        assert len(beats) == total, f"{len(beats)} codes, expected {total}"
        got_layers = split_layers(beats, "code")
        assert len(got_layers) == len(expected)
        selected_layers = split_layers(
            [{"index": i, "last": last} for _, i, last in monitor.selected], "index") \
            if self.taps else [None] * len(expected)
        errors = {}
        for n, ((stimulus, k, model), codes, selected) in enumerate(
                zip(expected, got_layers, selected_layers)):
            want = [c for c, _ in model.codes]
            if codes != want:
                at = first_difference(codes, want)
                beat = sum(len(layer) for layer in got_layers[:n]) + at
                raise AssertionError(f"codes beat {beat} (layer {n}, k={k}, code {at} of "
                                     f"{len(want)}): expected {want[at:at + 8]}, got "
                                     f"{codes[at:at + 8]} (8 codes from there)")
            if self.taps:
                assert selected == list(model.selected), \
                    f"layer {n}: sorter output {selected} != model {list(model.selected)}"
            if not isinstance(stimulus, list):
                reference = self.reference_selection(stimulus, k)
                decoded = decode_offsets(np.array(codes), self.bits)
                assert np.array_equal(decoded, reference), \
                    f"layer {n}: decoded {decoded} != select_tokens {reference}"
            for name, flag in model.errors.items():
                errors[name] = errors.get(name, False) or flag
        names = G.ANALYZER_ERRORS + G.SORTER_ERRORS + G.ENCODER_ERRORS
        want_bits = error_bits(names, {**dict.fromkeys(names, False), **errors})
        if expect_errors is not None:
            assert want_bits == error_bits(names, {**dict.fromkeys(names, False),
                                                   **dict.fromkeys(expect_errors, True)}), \
                f"the model raises {errors}, the test expected {expect_errors}"
        assert int(dut.error.value) == want_bits, \
            f"error bits {int(dut.error.value):#x}, expected {want_bits:#x} ({errors})"
        return expected, monitor


@cocotb.test()
async def top_random_layers(dut):
    """Random layers back to back (ties, k = 1, M, multiples of a...), every flow pattern."""
    tb = SecTB(dut, 1)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        layers = []
        for _ in range(3):
            count = int(tb.rng.integers(1, tb.n + 1))
            raw = tb.random_probs(int(tb.rng.integers(1, 4)), count)
            layers.append((raw, int(tb.rng.choice(tb.interesting_k(count)))))
        await tb.run_top(layers, idle=idle, stall=stall, expect_errors=())


@cocotb.test()
async def top_edge_sizes(dut):
    """M = max_tokens, M = 1, M = a, M = a + 1, with every interesting k."""
    tb = SecTB(dut, 2)
    await tb.reset()
    a, n = tb.a, tb.n
    for count in sorted({n, 1, min(a, n), min(a + 1, n), max(1, n - 1)}):
        raw = tb.random_probs(2, count)
        layers = [(raw, k) for k in tb.interesting_k(count)]
        await tb.run_top(layers, idle=0.1, stall=0.1, expect_errors=())


@cocotb.test()
async def top_huge_gaps(dut):
    """Important tokens far apart: offsets need many escape codes."""
    tb = SecTB(dut, 3)
    await tb.reset()
    n = tb.n
    floor_value = tb.arith.importance_codes(2.0 ** -8)
    high = tb.arith.importance_codes(0.9)
    layers = []
    for picks in ([n - 1], [0, n - 1], [0, n // 2, n - 1], [n // 3]):
        raw = np.full((1, n), floor_value, dtype=np.int64)
        raw[0, picks] = high
        layers.append((raw, len(picks)))
    await tb.run_top(layers, expect_errors=())
    await tb.run_top(layers[:2], idle=0.3, stall=0.6, expect_errors=())


@cocotb.test()
async def top_bad_inputs(dut):
    """k = 0, k > M, M = 0, M > max_tokens, stray groups, NaN/inf/negative: flag + defined."""
    tb = SecTB(dut, 4)
    a, n = tb.a, tb.n
    count = max(1, min(n - 1, 3 * a - 1))
    raw = tb.random_probs(2, count, "random")
    cases = [
        ("k = 0", [(raw, 0)], ["bad_k"]),
        ("k > M", [(raw, count + 1)], ["bad_k"]),
    ]
    k_limit = (1 << len(dut.k)) - 1
    if k_limit > count + 1:
        cases.append(("k huge", [(raw, k_limit)], ["bad_k"]))
    zero_tokens = G.probability_beats(raw[:, :1], a, tokens=0)
    cases.append(("M = 0", [(zero_tokens, 1)], ["bad_tokens"]))
    tokens_field = dict(tb.probs_layout)["tokens"]
    if (1 << tokens_field.width) - 1 > n:
        full = tb.random_probs(1, n, "random")
        cases.append(("M > max_tokens", [(G.probability_beats(full, a, tokens=n + 1), 3)],
                      ["bad_tokens"]))
    changed = [G.ProbsBeat(b.data, b.group, b.tokens + (i == 1), b.last)
               for i, b in enumerate(G.probability_beats(raw, a))]
    if count + 1 <= n:
        cases.append(("M changes within a layer", [(changed, 2)], ["bad_tokens"]))
    groups_field = dict(tb.probs_layout)["group"]
    if (1 << groups_field.width) * a > count:
        stray = G.probability_beats(raw, a)
        bad_group = (count + a - 1) // a
        stray.insert(0, G.ProbsBeat(tuple([int(tb.arith.importance_codes(1.0))] * a),
                                    bad_group, count, False))
        cases.append(("group past M", [(stray, 2)], ["bad_group"]))
    for name, bits in tb.arith.invalid_importance:         # fp16: NaN, infinities, negatives
        bad = raw.copy()
        bad[0, count // 2] = bits
        bad[1, 0] = bits
        cases.append((name, [(bad, 2)], ["bad_value"]))
    minus_zero = tb.arith.importance_codes(-0.0)
    if minus_zero != tb.arith.importance_codes(0.0):        # a format with a -0 (fp16)
        negative_zero = raw.copy()
        negative_zero[:, count - 1] = minus_zero
        cases.append(("-0 is a valid zero", [(negative_zero, count)], []))
    for name, layers, errors in cases:
        dut._log.info("bad input case: %s", name)
        await tb.reset()
        await tb.run_top(layers, idle=0.2, stall=0.2, expect_errors=errors)


@cocotb.test()
async def top_cycle_counts(dut):
    """Passes back to back (exactly P*M cycles); the rest within the encoder's escape stalls."""
    tb = SecTB(dut, 5)
    if not tb.taps:
        dut._log.info("no taps on the generated top: its internal cycle counts are not seen")
        return
    await tb.reset()
    for count in sorted({tb.n, max(1, tb.n // 2 + 1)}):
        raw = tb.random_probs(3, count, "random")
        for k in tb.interesting_k(count):
            beats = G.probability_beats(raw, tb.a, rng=tb.rng)
            [(_, _, model)], monitor = await tb.run_top([(beats, k)])
            imp, sel = monitor.importance, monitor.selected
            passes = model.sort.passes
            assert len(imp) == passes * count
            assert imp[-1][0] - imp[0][0] + 1 == passes * count, \
                f"M={count} k={k}: {passes} passes took {imp[-1][0] - imp[0][0] + 1} cycles"
            cycles = sel[-1][0] - imp[0][0] + 1
            alone = G.sorter_cycles(count, model.sort.k, tb.a, model.selected)
            escapes = sum(1 for code, _ in model.codes if code == 0)
            dut._log.info("M=%d k=%d: sorter %d cycles in the top (alone %d, published %d, "
                          "%d escape codes)", count, k, cycles, alone,
                          G.published_sorter_cycles(count, model.sort.k, tb.a), escapes)
            assert alone <= cycles <= alone + escapes, \
                f"M={count} k={k}: {cycles} cycles, alone {alone}, {escapes} escapes"


@cocotb.test()
async def analyzer_passes(dut):
    """Standalone analyzer: exact buffer contents, repeated passes under back-pressure."""
    tb = SecTB(dut, 6)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        sink, sink_task = tb.sink("an_importance", stall)
        probs, reads = tb.source("an_probs", idle), tb.source("an_read", idle)
        for _ in range(2):
            count = int(tb.rng.integers(1, tb.n + 1))
            raw = tb.random_probs(int(tb.rng.integers(1, 4)), count)
            beats = G.probability_beats(raw, tb.a, rng=tb.rng)
            model = G.analyze_layer(tb.arith, beats, **tb.sec)
            start = len(sink.beats)
            passes = int(tb.rng.integers(1, 4))
            await probs.send(tb.probs_beats(beats))
            await reads.send([pack_struct(READ_REQUEST, release=0)] * passes
                             + [pack_struct(READ_REQUEST, release=1)])
            await sink.wait_for(start + passes * count, timeout_cycles=8 * passes * count + 100)
            got = [unpack_struct(tb.importance_layout, w) for w in sink.beats[start:]]
            assert len(got) == passes * count
            for p in range(passes):
                chunk = got[p * count:(p + 1) * count]
                values = [b["value"] for b in chunk]
                assert values == list(model.importance), \
                    f"pass {p}: {values} != {list(model.importance)}"
                assert [b["last"] for b in chunk] == [0] * (count - 1) + [1]
        sink_task.cancel()
        assert int(dut.an_error.value) == 0


@cocotb.test()
async def analyzer_full_rate(dut):
    """Back-to-back vectors are accepted one per cycle, passes run back to back."""
    tb = SecTB(dut, 7)
    await tb.reset()
    count = tb.n
    raw = tb.random_probs(4, count, "random")
    beats = G.probability_beats(raw, tb.a, rng=tb.rng)
    probs = tb.source("an_probs")
    await ClockCycles(dut.clk, G.clear_cycles(tb.n, tb.a) + 2)   # reset clear
    start = int(dut.cycle.value)
    await probs.send(tb.probs_beats(beats))
    accepted = int(dut.cycle.value) - start
    assert accepted == len(beats), f"{len(beats)} vectors took {accepted} cycles"
    sink, sink_task = tb.sink("an_importance")
    await tb.source("an_read").send([pack_struct(READ_REQUEST, release=0)] * 2
                                    + [pack_struct(READ_REQUEST, release=1)])
    await sink.wait_for(2 * count, timeout_cycles=4 * count + 50)
    sink_task.cancel()
    span = sink.cycles[-1] - sink.cycles[0] + 1
    assert span == 2 * count, f"two passes of {count} tokens took {span} cycles"


@cocotb.test()
async def sorter_standalone(dut):
    """Standalone sorter fed by a model analyzer with idle cycles; exact selection and passes."""
    tb = SecTB(dut, 8)
    await tb.reset()
    for idle, stall in FLOW_PATTERNS:
        for _ in range(2):
            count = int(tb.rng.integers(1, tb.n + 1))
            values, _ = tb.arith.sanitize_importance(tb.random_probs(1, count)[0])
            k = int(tb.rng.choice(tb.interesting_k(count)))
            await tb.run_sorter(values, k, idle=idle, stall=stall)
    assert int(dut.so_error.value) == 0


@cocotb.test()
async def sorter_cycle_counts(dut):
    """Standalone sorter at full rate: cycles exactly ``golden.sec.sorter_cycles``."""
    tb = SecTB(dut, 12)
    await tb.reset()
    for count in sorted({tb.n, max(1, tb.n // 2 + 1), min(tb.n, tb.a)}):
        values, _ = tb.arith.sanitize_importance(tb.random_probs(1, count, "random")[0])
        for k in tb.interesting_k(count):
            await tb.run_sorter(values, k, exact_cycles=True)


@cocotb.test()
async def sorter_bad_passes(dut):
    """Passes of the wrong length raise BAD_PASS and the sorter still finishes the layer."""
    tb = SecTB(dut, 9)
    count = min(tb.n, 2 * tb.a + 1)
    values, _ = tb.arith.sanitize_importance(tb.random_probs(1, count, "random")[0])
    k = min(count, tb.a + 1)
    for lengths in ([count, count - 1], [count, count + 1]):
        if min(lengths) < 1 or max(lengths) > tb.n:
            continue
        await tb.reset()
        await tb.run_sorter(values, k, lengths=lengths, check=False)
        assert int(dut.so_error.value) == 2, f"lengths {lengths}: error {dut.so_error.value}"
    # pass 1 longer than max_tokens: the extra tokens are ignored (k = max_tokens, or a + 1
    # when that many passes exceed sort_cycles)
    await tb.reset()
    long_values = np.resize(values, tb.n + 3)
    k = tb.n if tb.affordable(tb.n, tb.n) else min(tb.n, tb.a + 1)
    got = await tb.run_sorter(long_values, k, lengths=[tb.n + 3], check=False)
    assert int(dut.so_error.value) == 2
    assert got == list(G.topk_select(long_values[:tb.n], k, tb.a).selected)


async def _run_sorter(self, values, k, *, idle=0.0, stall=0.0, lengths=None, check=True,
                      exact_cycles=False):
    """Drive the standalone sorter: serve its pass requests, collect its indices."""
    dut = self.dut
    first_beat = None
    dut.so_k.value = k
    requests, req_task = self.sink("so_read", stall)
    out, out_task = self.sink("so_selected", stall)
    out_start = int(dut.cycle.value)
    importance = self.source("so_importance", idle)
    served = 0
    budget = 0
    while True:
        for _ in range(20 * len(values) + 100):
            if len(requests.beats) > served:
                break
            await RisingEdge(dut.clk)
        else:
            raise AssertionError(f"no pass request after {served} passes")
        release = unpack_struct(READ_REQUEST, requests.beats[served])["release"]
        served += 1
        if release:
            # stop accepting: the next request already belongs to the next layer
            req_task.cancel()
            dut.so_read__ready.value = 0
            break
        length = len(values) if lengths is None else lengths[min(served - 1, len(lengths) - 1)]
        beats = [pack_struct(self.importance_layout, value=v, last=i == length - 1)
                 for i, v in enumerate(np.resize(values, length))]
        budget += length
        if first_beat is None:
            first_beat = int(dut.cycle.value)
        await importance.send(beats)
    for _ in range(4 * (budget + 2 * len(values)) + 200):
        if out.beats and unpack_struct(self.index_layout, out.beats[-1])["last"]:
            break
        await RisingEdge(dut.clk)
    else:
        raise AssertionError("the sorter did not finish the layer")
    await ClockCycles(dut.clk, 2)
    out_task.cancel()
    got = [unpack_struct(self.index_layout, w)["index"] for w in out.beats]
    if check:
        model = G.topk_select(values, k, self.a)
        assert got == list(model.selected), f"k={k}: {got} != model {list(model.selected)}"
        assert np.array_equal(got, select_tokens(values, model.k))
        assert served == model.passes + 1, f"{served - 1} passes, model {model.passes}"
        if exact_cycles:
            cycles = out.cycles[-1] - out.cycles[0] + 1
            cycles += out.cycles[0] - (first_beat - out_start)
            want = G.sorter_cycles(len(values), model.k, self.a, model.selected)
            assert cycles == want, f"M={len(values)} k={k}: {cycles} cycles, model {want}"
    return got


SecTB.run_sorter = _run_sorter


@cocotb.test()
async def offset_loop(dut):
    """Encoder -> decoder on sparse, dense and huge-gap index sets; codes as the model."""
    tb = SecTB(dut, 10)
    await tb.reset()
    n = tb.n
    fixed = [[0], [n - 1], [0, n - 1], list(range(n)), [n // 2, n // 2 + 1, n - 1]]
    for idle, stall in FLOW_PATTERNS:
        layers = fixed + [sorted(tb.rng.choice(n, size=int(tb.rng.integers(1, n + 1)),
                                               replace=False).tolist()) for _ in range(4)]
        await tb.run_loop(layers, idle=idle, stall=stall)
    assert int(dut.lp_error.value) == 0


async def _run_loop(self, layers, *, idle=0.0, stall=0.0):
    dut = self.dut
    codes_seen = []

    async def watch():
        while True:
            await ReadOnly()
            if int(dut.lp_codes_fire.value):
                codes_seen.append((int(dut.lp_codes_code.value), int(dut.lp_codes_last.value)))
            await RisingEdge(dut.clk)

    watch_task = cocotb.start_soon(watch())
    out, out_task = self.sink("lp_indices_out", stall)
    source = self.source("lp_indices", idle)
    beats = [pack_struct(self.index_layout, index=i, last=j == len(layer) - 1)
             for layer in layers for j, i in enumerate(layer)]
    await source.send(beats)
    total = sum(len(layer) for layer in layers)
    want_codes, _ = G.encode_stream(layers, self.bits)
    await out.wait_for(total, timeout_cycles=int(4 * len(want_codes) / (1 - stall)) + 100)
    await ClockCycles(dut.clk, 2)
    watch_task.cancel()
    out_task.cancel()
    got = split_layers([unpack_struct(self.index_layout, w) for w in out.beats], "index")
    assert got == [list(layer) for layer in layers], f"decoded {got} != sent {layers}"
    assert codes_seen == [(c, int(last)) for c, last in want_codes], \
        f"codes {codes_seen} != model {want_codes}"
    for layer, codes in zip(layers, split_layers(
            [{"code": c, "last": last} for c, last in codes_seen], "code")):
        assert np.array_equal(decode_offsets(np.array(codes), self.bits), layer)


SecTB.run_loop = _run_loop


@cocotb.test()
async def offset_bad_streams(dut):
    """Non-ascending indices (encoder), trailing escape and overflow (decoder)."""
    tb = SecTB(dut, 11)
    await tb.reset()
    n, step = tb.n, (1 << tb.bits) - 1
    # encoder: a repeated index is coded as previous + 1
    source = tb.source("lp_indices")
    out, out_task = tb.sink("lp_indices_out")
    await source.send([pack_struct(tb.index_layout, index=i, last=last)
                       for i, last in ((3, 0), (3, 0), (1, 1))])
    await out.wait_for(3, timeout_cycles=100)
    out_task.cancel()
    got = [unpack_struct(tb.index_layout, w)["index"] for w in out.beats]
    assert got == [3, 4, 5], got
    assert int(dut.lp_error.value) == 1 << len(G.DECODER_ERRORS)
    # decoder: malformed code streams against the model
    streams = [
        [(0, 0), (1, 0), (0, 1)],                       # ends with an escape
        [(0, 0)] * (n // step + 1) + [(1, 1)],          # runs past max_tokens
        [(step, 0)] * (n // step + 2) + [(2, 1)],       # ... with plain codes
        [(2, 0), (0, 0), (3 % (step + 1) or 1, 1)],     # a well-formed one afterwards
    ]
    for stream_ in streams:
        await tb.reset()
        source = tb.source("dec_codes", 0.2)
        out, out_task = tb.sink("dec_indices", 0.2)
        await source.send([pack_struct(tb.code_layout, code=c, last=last)
                           for c, last in stream_])
        want, errors = G.decode_stream(stream_, tb.bits, n)
        await out.wait_for(len(want), timeout_cycles=20 * len(stream_) + 50)
        await ClockCycles(dut.clk, 2)
        out_task.cancel()
        got = [(b["index"], b["last"]) for b in
               (unpack_struct(tb.index_layout, w) for w in out.beats)]
        assert got == [(i, int(last)) for i, last in want], f"{stream_}: {got} != {want}"
        assert int(dut.dec_error.value) == error_bits(G.DECODER_ERRORS, errors)
